//! The parsed pipeline: [`Pipeline`], its [`JobSpec`]s and [`TargetSpec`]s,
//! and the defaults a job gets when the file does not say.

use std::collections::BTreeMap;

use super::ci::{CiSettings, TargetCi};
use crate::ids::{JobId, TargetId};
use crate::section::ConfigSection;
use crate::status::ExecutorKind;

/// The default job timeout when `timeout_secs` is not given.
pub const DEFAULT_TIMEOUT_SECS: u64 = 3600;

/// How large a job's `guest.log` may grow when neither the job nor
/// `[defaults]` says (1 GiB): a job printing without end cannot fill the disk.
pub const DEFAULT_MAX_LOG_BYTES: u64 = 1 << 30;

/// A parsed, validated `pikaci.toml`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pipeline {
    /// Jobs in file order.
    pub jobs: Vec<JobSpec>,
    /// Targets in file order.
    pub targets: Vec<TargetSpec>,
    /// The `[incus]` table (empty when absent), read by `pikaci-incus`.
    pub incus: ConfigSection,
    /// `[ci]`: how CI runs the targets that ask for it.
    pub ci: CiSettings,
}

/// One `[[job]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// Its id.
    pub id: JobId,
    /// What it does.
    pub description: String,
    /// The shell command, run with `bash`.
    pub command: String,
    /// How long it may run.
    pub timeout_secs: u64,
    /// Where it runs.
    pub executor: ExecutorKind,
    /// For VM executors: run the command as root instead of user `pikaci`.
    pub run_as_root: bool,
    /// Whether the job may change its workspace (it then gets a private copy).
    pub writable_workspace: bool,
    /// Extra environment for the command.
    pub env: BTreeMap<String, String>,
    /// Jobs that must pass before this one starts.
    pub needs: Vec<JobId>,
    /// How large its `guest.log` may grow; past it output is dropped.
    pub max_log_bytes: u64,
}

#[cfg(any(test, feature = "test-helpers"))]
impl JobSpec {
    /// A host job `id` running `command` with the defaults a pipeline file
    /// gives a job that sets nothing else (for tests: change what matters
    /// with struct update syntax).
    pub fn for_test(id: &str, command: &str) -> Self {
        Self {
            id: id.parse().expect("test job id is valid"),
            description: String::new(),
            command: command.to_owned(),
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            executor: ExecutorKind::Host,
            run_as_root: false,
            writable_workspace: false,
            env: BTreeMap::new(),
            needs: Vec::new(),
            max_log_bytes: DEFAULT_MAX_LOG_BYTES,
        }
    }
}

/// One `[[target]]`: a named set of jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetSpec {
    /// Its id.
    pub id: TargetId,
    /// Its short name on a forge's pages (the id when not given).
    pub title: Option<String>,
    /// What it is for.
    pub description: String,
    /// The jobs it runs, in order.
    pub jobs: Vec<JobId>,
    /// Globs of the files whose change makes CI run it (empty: any change).
    pub paths: Vec<String>,
    /// When CI runs it.
    pub ci: TargetCi,
}

impl Pipeline {
    /// The job with this id.
    pub fn job(&self, id: &JobId) -> Option<&JobSpec> {
        self.jobs.iter().find(|j| &j.id == id)
    }

    /// The target with this id.
    pub fn target(&self, id: &TargetId) -> Option<&TargetSpec> {
        self.targets.iter().find(|t| &t.id == id)
    }
}

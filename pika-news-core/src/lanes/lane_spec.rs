//! What one lane run is given ([`LaneRunSpec`]) and what it ends with
//! ([`LaneOutcome`]), and the environment its child gets from the spec.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::time::Duration;

use camino::Utf8PathBuf;
use pikaci_core::{FailureKind, RunId};

use super::cgroup::LaneCgroupRequest;
use super::manifest::LaneCommand;
use crate::db::LaneStatus;
use crate::sandbox::{self, Confinement};

/// Variables a lane's child always keeps (plus the `PIKACI_*` of
/// [`PIKACI_ENV`] and the config's allow-list).
const BASE_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "CARGO_HOME",
    "RUSTUP_HOME",
];

/// The `PIKACI_*` variables a lane's pikaci reads from its environment (the
/// Incus settings, `pikaci-incus`'s `env_var`; a name ending in `_` is a
/// prefix), and the only ones of the service's a lane keeps: anything else
/// named `PIKACI_*` there is the service's business. `PIKACI_STATE_ROOT` is
/// set for each lane.
const PIKACI_ENV: &[&str] = &["PIKACI_REMOTE_LINUX_VM_INCUS_"];

/// Everything needed to run one lane.
#[derive(Debug, Clone)]
pub struct LaneRunSpec {
    /// What to run.
    pub command: LaneCommand,
    /// The worktree to run in.
    pub worktree: Utf8PathBuf,
    /// The `pikaci` binary, for pikaci lanes.
    pub pikaci_bin: Utf8PathBuf,
    /// The repository's state root, set as `PIKACI_STATE_ROOT`.
    pub pikaci_state_root: Utf8PathBuf,
    /// The branch the lane runs for, given to a pikaci lane as
    /// `PIKACI_GIT_BRANCH` (its worktree's HEAD is detached), so the run
    /// records it.
    pub branch: Option<String>,
    /// Extra variable names the child may keep.
    pub env_allow: Vec<String>,
    /// The parent environment to filter (a seam: tests pass their own).
    pub parent_env: BTreeMap<String, String>,
    /// The wall-clock limit.
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// Where the lane's output goes (pikaci's events as readable lines).
    pub log_path: Utf8PathBuf,
    /// Who the child runs as, and whether it dies with the server.
    pub confinement: Confinement,
    /// Where a pikaci lane's raw JSONL events are kept for tools, if anywhere.
    pub events_path: Option<Utf8PathBuf>,
    /// The lane's own cgroup, if lanes get one (`None`: its process group
    /// and its supervisor only).
    pub cgroup: Option<LaneCgroupRequest>,
    /// The lane's own fresh `HOME` (its `TMPDIR` is `tmp/` inside), made
    /// before and removed after it; `None`: the parent's, if allowed.
    pub home: Option<Utf8PathBuf>,
}

/// How a lane ended.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneOutcome {
    /// `passed`, `failed` or `cancelled`.
    pub status: LaneStatus,
    /// Why it failed.
    pub failure_kind: Option<FailureKind>,
    /// The exit code, when it exited by itself.
    pub exit_code: Option<i32>,
    /// A one-line summary.
    pub message: String,
    /// The pikaci run it started, if any.
    pub pikaci_run_id: Option<RunId>,
}

impl LaneOutcome {
    /// A lane that could not run: an infrastructure failure.
    pub(super) fn infrastructure(message: String) -> Self {
        Self {
            status: LaneStatus::Failed,
            failure_kind: Some(FailureKind::Infrastructure),
            exit_code: None,
            message,
            pikaci_run_id: None,
        }
    }

    /// [`infrastructure`](Self::infrastructure), said in the lane log too.
    pub(super) fn logged(log: &File, message: String) -> Self {
        let _ = writeln!(&*log, "[pika-news] {message}");
        Self::infrastructure(message)
    }
}

/// The child's environment: only allowed variables survive.
pub fn allowed_env(
    parent: &BTreeMap<String, String>,
    extra: &[String],
) -> BTreeMap<String, String> {
    parent
        .iter()
        .filter(|(k, _)| {
            BASE_ENV.contains(&k.as_str())
                || PIKACI_ENV
                    .iter()
                    .any(|p| k.as_str() == *p || (p.ends_with('_') && k.starts_with(p)))
                || extra.iter().any(|e| e == *k)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The child's whole environment: the allowed variables; the lane's own
/// `HOME` and `TMPDIR`; git told to read no global or system configuration
/// (another lane could have written one: `core.fsmonitor` in a shared
/// `~/.gitconfig` runs a program in every later lane's `git status`); and
/// when the lane runs as a lane user, that user's `USER` and `LOGNAME`, and
/// a `safe.directory` for the worktree (git refuses a worktree whose
/// bookkeeping another user owns; here that user is the service).
pub(super) fn lane_env(spec: &LaneRunSpec) -> BTreeMap<String, String> {
    let mut env = allowed_env(&spec.parent_env, &spec.env_allow);
    if let Some(user) = &spec.confinement.user {
        for (k, v) in user.identity_env() {
            env.insert(k.to_owned(), v);
        }
        // The service's PATH may name its own folders; a lane gets the system's.
        let path = spec.confinement.lane_path.as_deref();
        env.insert(
            "PATH".into(),
            path.unwrap_or(sandbox::DEFAULT_LANE_PATH).into(),
        );
        env.insert("GIT_CONFIG_COUNT".into(), "1".into());
        env.insert("GIT_CONFIG_KEY_0".into(), "safe.directory".into());
        env.insert("GIT_CONFIG_VALUE_0".into(), spec.worktree.to_string());
    }
    if let Some(home) = &spec.home {
        env.insert("HOME".into(), home.to_string());
        env.insert(
            "TMPDIR".into(),
            home.join(sandbox::files::LANE_TMP).to_string(),
        );
    }
    env.insert("GIT_CONFIG_GLOBAL".into(), "/dev/null".into());
    env.insert("GIT_CONFIG_NOSYSTEM".into(), "1".into());
    env
}

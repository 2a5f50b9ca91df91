//! One cgroup per job or lane, made by pikaci or pika-news itself (no
//! systemd needed): everything a job starts stays in it, whatever it does
//! with sessions, process groups or its supervisor, and it is ended as a
//! whole with `cgroup.kill`.
//!
//! - [`CgroupRoot::detect`] finds, once at start-up, where this process may
//!   make cgroups: under its own cgroup in the v2 hierarchy (on a hybrid
//!   layout, the `cgroup2` mount beside the v1 controllers; on a v1-only
//!   one, a v2 hierarchy it mounts itself at [`OWN_V2_MOUNT`]). Limits go
//!   where their controller is: in v2 when enabled there, else in the v1
//!   `pids`, `memory` and `cpu` hierarchies, in a cgroup of the same name.
//!   When nothing is writable it fails, and the caller says so and keeps
//!   its process-group supervisor alone.
//! - [`CgroupRoot::create`] makes one with [`CgroupLimits`];
//!   [`Cgroup::add`] moves a process in, [`Cgroup::kill`] ends everything
//!   in it and says how many processes it held, [`Cgroup::limits_hit`]
//!   says whether memory or the process limit was reached,
//!   [`Cgroup::remove`] removes it.
//! - [`await_membership`]: the job supervisor waits until it has been moved
//!   in before it starts the job, so no process of the job starts outside.
//! - [`enter`]: the same wait for a child that is not supervised (a pikaci
//!   lane): it waits to be moved in, then `exec`s the program.

pub mod enter;
mod file;
mod group;
mod layout;
mod root;

use std::path::PathBuf;

pub use group::{Cgroup, LimitsHit, await_membership};
pub use layout::{Controller, Membership, Mounts};
pub use root::{CgroupRoot, OWN_V2_MOUNT};

/// Limits of one cgroup (`None`: not limited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CgroupLimits {
    /// Bytes of memory (`memory.max`, v1 `memory.limit_in_bytes`); past it
    /// the kernel's OOM killer ends a process of the cgroup.
    pub memory_max: Option<u64>,
    /// Processes and threads (`pids.max`); past it `fork` fails.
    pub pids_max: Option<u64>,
    /// CPU weight, 1 to 10000, 100 being a normal process's
    /// (`cpu.weight`, v1 `cpu.shares` = weight × 1024 / 100).
    pub cpu_weight: Option<u16>,
}

impl CgroupLimits {
    /// Each limit that is set, with the value its v2 file takes (v1 takes
    /// the same, but for the CPU weight, converted by the root).
    fn values(&self) -> Vec<(Controller, String)> {
        let mut v = Vec::new();
        if let Some(p) = self.pids_max {
            v.push((Controller::Pids, p.to_string()));
        }
        if let Some(m) = self.memory_max {
            v.push((Controller::Memory, m.to_string()));
        }
        if let Some(w) = self.cpu_weight {
            v.push((Controller::Cpu, w.clamp(1, 10_000).to_string()));
        }
        v
    }
}

/// Why a cgroup could not be found, made, used or removed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A file of the cgroup file system could not be read or written.
    #[error("could not {what}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// A limit was asked for that no controller here can enforce.
    #[error("no {0} controller to enforce the limit with, in v2 or v1")]
    NoController(&'static str),
    /// A cgroup name with a `/` or a leading `.`, or empty.
    #[error("{0:?} is not a cgroup name")]
    BadName(String),
    /// Processes were left after the kill.
    #[error("{left} processes still in {} after SIGKILL", cgroup.display())]
    StillPopulated {
        /// The cgroup.
        cgroup: PathBuf,
        /// How many.
        left: usize,
    },
    /// The process was not moved into its cgroup in time.
    #[error("was not moved into cgroup {0} in time")]
    NotMoved(String),
}

impl CgroupError {
    /// The error and its causes, for a log line or a warning ("could not
    /// make cgroup X: Permission denied").
    pub fn with_causes(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        text
    }
}

#[cfg(test)]
mod tests;

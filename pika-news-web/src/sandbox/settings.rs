//! `[lanes]` of `pika-news.toml`.

use std::time::Duration;

use pikaci_core::engine::supervisor::JobSupervisor;

use crate::lanes::limits::LaneLimits;

/// How long a claim lasts without a heartbeat, unless configured.
pub const DEFAULT_LEASE_SECS: u64 = 60;

/// `[lanes]`: who lanes run as, and how long a claim lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneSettings {
    /// The unprivileged user lanes run as (`None`: as the service itself,
    /// which only suits trusted branches).
    pub run_as_user: Option<String>,
    /// How long a claim lasts without a heartbeat (renewed every third of it).
    pub lease_secs: u64,
    /// The job supervisor argv lanes run under (not in the file: `pika-news
    /// serve` sets its own binary). `None`: an argv lane's processes that
    /// leave its process group are not stopped with it.
    pub supervisor: Option<JobSupervisor>,
    /// `memory_max`, `pids_max`, `cpu_weight`: each lane's cgroup's limits.
    pub limits: LaneLimits,
}

impl Default for LaneSettings {
    fn default() -> Self {
        Self {
            run_as_user: None,
            lease_secs: DEFAULT_LEASE_SECS,
            supervisor: None,
            limits: LaneLimits::default(),
        }
    }
}

impl LaneSettings {
    /// From the configuration file's values (defaults for what is left out).
    pub fn new(run_as_user: Option<String>, lease_secs: Option<u64>) -> Self {
        Self {
            run_as_user: run_as_user.filter(|u| !u.is_empty()),
            // A heartbeat every third of the lease: at least 3 s so it is a second.
            lease_secs: lease_secs.unwrap_or(DEFAULT_LEASE_SECS).max(3),
            supervisor: None,
            limits: LaneLimits::default(),
        }
    }

    /// The lease as a duration.
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }
}

//! Is the process that owns a `running` run still there?
//!
//! A run record names its owner (pid and host). When that process is gone the
//! run can never finish, so readers report it as interrupted instead of
//! `running` forever. The check is a seam so the decision is tested without
//! real processes.

use crate::record::{RunOwner, RunRecord};

/// Answers whether a run's owner is alive.
pub trait Liveness: Send + Sync {
    /// This machine's host name, as recorded in [`RunOwner::host`].
    fn this_host(&self) -> &str;
    /// Whether process `pid` on this host exists.
    fn is_alive(&self, pid: u32) -> bool;

    /// Whether `record` says `running` but its owner on this host is gone.
    fn is_orphaned(&self, record: &RunRecord) -> bool {
        record.is_orphaned(self.this_host(), |pid| self.is_alive(pid))
    }
}

/// The real check: `kill(pid, 0)` on this host.
#[derive(Debug, Clone)]
pub struct SystemLiveness {
    host: String,
}

impl SystemLiveness {
    /// Reads the host name once.
    pub fn new() -> Self {
        Self {
            host: this_host_name(),
        }
    }

    /// The owner record for the current process.
    pub fn current_owner(&self) -> RunOwner {
        RunOwner {
            pid: std::process::id(),
            host: self.host.clone(),
        }
    }
}

impl Default for SystemLiveness {
    fn default() -> Self {
        Self::new()
    }
}

impl Liveness for SystemLiveness {
    fn this_host(&self) -> &str {
        &self.host
    }

    fn is_alive(&self, pid: u32) -> bool {
        let Ok(pid) = i32::try_from(pid) else {
            return false;
        };
        if pid <= 0 {
            return false;
        }
        match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
            Ok(()) => true,
            // The process exists but belongs to someone else.
            Err(nix::errno::Errno::EPERM) => true,
            Err(_) => false,
        }
    }
}

/// The host name, or `localhost` when it cannot be read.
pub fn this_host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        let live = SystemLiveness::new();
        assert!(live.is_alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!live.is_alive(pid));
        assert!(!live.is_alive(0));
        assert_eq!(live.current_owner().host, live.this_host());
    }
}

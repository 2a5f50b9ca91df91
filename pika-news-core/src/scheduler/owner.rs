//! [`LaneOwner`]: who holds a lane's lease: `host:pid:start_ticks`. With the
//! process's start time (field 22 of `/proc/<pid>/stat`), a restarted
//! server recognises a lease left by a server of this host that is gone,
//! even if another process got its pid since, and takes the lane back at
//! once instead of waiting for the lease to run out.

use std::fmt;
use std::ops::Deref;

use pikaci_core::{ProcessProbe, RunOwner, SystemLiveness};

/// The holder of a lane's lease: a [`RunOwner`] (host, pid, start ticks,
/// `None` in leases written before the start time was recorded), written
/// as the lease's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneOwner(pub RunOwner);

/// Whether the server holding a lease is still there, as far as this host can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerState {
    /// It runs (or it is on another host, which this one cannot see).
    Alive,
    /// It ran on this host and is gone.
    Gone,
}

impl LaneOwner {
    /// This process on `host`.
    pub fn current(host: String) -> Self {
        Self(RunOwner {
            host,
            ..SystemLiveness::new().current_owner()
        })
    }

    /// Parses a stored owner: `host:pid:start_ticks`, or the older `host:pid`.
    pub fn parse(stored: &str) -> Option<Self> {
        let (rest, last) = stored.rsplit_once(':')?;
        if let Some((host, pid)) = rest.rsplit_once(':')
            && let (Ok(pid), Ok(ticks)) = (pid.parse(), last.parse())
        {
            return Some(Self(RunOwner {
                host: host.to_owned(),
                pid,
                start_ticks: Some(ticks),
                lock: false,
            }));
        }
        Some(Self(RunOwner {
            host: rest.to_owned(),
            pid: last.parse().ok()?,
            start_ticks: None,
            lock: false,
        }))
    }

    /// Whether this owner is alive, judged from `this_host` with `probe`
    /// (the start ticks of a pid, `None` when no such process runs). An
    /// older lease without a start time is alive while its pid runs.
    pub fn state(&self, this_host: &str, probe: impl Fn(u32) -> Option<u64>) -> OwnerState {
        if self.0.host != this_host {
            return OwnerState::Alive;
        }
        let probe = match probe(self.0.pid) {
            None => ProcessProbe::Gone,
            Some(now) => ProcessProbe::Running {
                start_ticks: Some(now),
            },
        };
        match self.0.judge(probe) {
            pikaci_core::OwnerState::Gone => OwnerState::Gone,
            _ => OwnerState::Alive,
        }
    }
}

impl Deref for LaneOwner {
    type Target = RunOwner;

    fn deref(&self) -> &RunOwner {
        &self.0
    }
}

impl fmt::Display for LaneOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.start_ticks {
            Some(t) => write!(f, "{}:{}:{t}", self.0.host, self.0.pid),
            None => write!(f, "{}:{}", self.0.host, self.0.pid),
        }
    }
}

/// The start time of a live (not zombie) process, from `/proc/<pid>/stat`:
/// `None` when there is no such process.
pub fn start_ticks(pid: u32) -> Option<u64> {
    let stat = pikaci_core::ProcStat::read(pid).ok()?;
    (!stat.is_dead()).then_some(stat.start_ticks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_round_trip_and_old_ones_parse() {
        let o = LaneOwner(RunOwner {
            host: "ci-1".into(),
            pid: 42,
            start_ticks: Some(987),
            lock: false,
        });
        assert_eq!(o.to_string(), "ci-1:42:987");
        assert_eq!(LaneOwner::parse("ci-1:42:987"), Some(o));
        assert_eq!(
            LaneOwner::parse("ci-1:42"),
            Some(LaneOwner(RunOwner {
                host: "ci-1".into(),
                pid: 42,
                start_ticks: None,
                lock: false,
            }))
        );
        assert_eq!(LaneOwner::parse("nonsense"), None);
    }

    #[test]
    fn a_gone_or_reused_pid_on_this_host_is_gone_other_hosts_are_alive() {
        let o = LaneOwner::parse("here:42:987").unwrap();
        assert_eq!(o.state("here", |_| None), OwnerState::Gone);
        assert_eq!(o.state("here", |_| Some(5)), OwnerState::Gone);
        assert_eq!(o.state("here", |_| Some(987)), OwnerState::Alive);
        assert_eq!(o.state("elsewhere", |_| None), OwnerState::Alive);
        let old = LaneOwner::parse("here:42").unwrap();
        assert_eq!(old.state("here", |_| Some(5)), OwnerState::Alive);
    }

    #[test]
    fn this_process_has_a_start_time() {
        let me = LaneOwner::current("h".into());
        assert!(me.start_ticks.is_some());
        assert_eq!(me.state("h", start_ticks), OwnerState::Alive);
    }
}

//! Is the process that owns a `running` run still there?
//!
//! A run record names its owner: pid, host and (since this version) the
//! process's start time. When that process is gone the run can never
//! finish, so readers report it as interrupted instead of `running` forever,
//! and gc may collect it; while it lives, gc never deletes the run. The
//! check is a seam so the decision is tested without real processes.
//!
//! A pid alone does not name a process: once the owner dies its pid can be
//! given to another process (or a record can name pid 1). The start time
//! (`/proc/<pid>/stat` field 22) can: a process with the owner's pid that
//! started at another time is not the owner. Records written by an older
//! pikaci carry no start time; for them the older rule holds (a process with
//! that pid exists: the run is taken to be alive), which
//! [`OwnerState::PidInUse`] names so callers can be more careful.
//!
//! A pid and a start time can still be copied into a record by anyone who
//! can write it (pid 1 with its real start time reads as alive for ever).
//! So this version's owner also holds its run folder locked exclusively
//! (`flock`) while it runs and says so in the record ([`RunOwner::lock`]):
//! the kernel drops the lock when the process dies, however it dies, and a
//! reader that tries the lock ([`LockProbe`]) knows at once. Such a record
//! is judged by the lock alone; records without the flag keep the pid rule.

use crate::proc_stat::ProcStat;
use crate::record::{RunOwner, RunRecord};
use crate::status::RunStatus;

/// What this host knows about one process id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessProbe {
    /// No process has this pid (or it has ended and waits to be reaped).
    Gone,
    /// A process has this pid; it started at `start_ticks` (clock ticks after
    /// boot), when that can be read.
    Running {
        /// `/proc/<pid>/stat` field 22, when known.
        start_ticks: Option<u64>,
    },
}

/// What can be said about the owner of a run, from this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerState {
    /// The record is not `running`: it has no owner to ask about.
    NotRunning,
    /// `running`, but with no owner recorded (an older pikaci) or owned on
    /// another host: nothing can be checked from here.
    Unknown,
    /// The owner is this host's process with that pid and start time.
    Alive,
    /// A process has the owner's pid, but the record has no start time to
    /// prove it is the owner (an older record), or the process's start time
    /// cannot be read. Readers take the run to be alive, as before.
    PidInUse,
    /// The owner is gone: no process has its pid, or the process that has it
    /// started at another time (the pid was reused).
    Gone,
}

/// What a brief try of a run folder's lock found: a shared `flock` tried
/// without waiting on the folder opened read-only, and released at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockProbe {
    /// Someone holds the folder exclusively: the run's owner.
    Held,
    /// Nobody holds it exclusively: an owner that took the lock is gone.
    Free,
    /// The lock could not be tried (the folder cannot be opened by this
    /// reader, or the file system has no locks).
    Unknown,
}

impl RunRecord {
    /// Judges this record's owner with `probe`, which answers for a pid on
    /// `this_host`, knowing nothing of the run folder's lock. Pure: the seam
    /// is `probe`.
    pub fn owner_state(&self, this_host: &str, probe: impl Fn(u32) -> ProcessProbe) -> OwnerState {
        self.owner_state_with(this_host, probe, || LockProbe::Unknown)
    }

    /// Judges this record's owner: by `lock` (a try of the run folder's
    /// lock, asked only for a running record whose owner took the lock on
    /// `this_host`), else by `probe` as [`RunRecord::owner_state`] does.
    /// When the lock cannot be tried a lock-owning record is never proved
    /// alive by its pid alone ([`OwnerState::PidInUse`] at most).
    pub fn owner_state_with(
        &self,
        this_host: &str,
        probe: impl Fn(u32) -> ProcessProbe,
        lock: impl FnOnce() -> LockProbe,
    ) -> OwnerState {
        if self.status != RunStatus::Running {
            return OwnerState::NotRunning;
        }
        let Some(owner) = self.owner.as_ref().filter(|o| o.host == this_host) else {
            return OwnerState::Unknown;
        };
        if !owner.lock {
            return owner.judge(probe(owner.pid));
        }
        match lock() {
            LockProbe::Held => OwnerState::Alive,
            LockProbe::Free => OwnerState::Gone,
            LockProbe::Unknown => match owner.judge(probe(owner.pid)) {
                OwnerState::Alive => OwnerState::PidInUse,
                other => other,
            },
        }
    }
}

impl RunOwner {
    /// How this owner stands, given what a probe of its pid found.
    pub fn judge(&self, probe: ProcessProbe) -> OwnerState {
        match (probe, self.start_ticks) {
            (ProcessProbe::Gone, _) => OwnerState::Gone,
            (
                ProcessProbe::Running {
                    start_ticks: Some(now),
                },
                Some(recorded),
            ) => {
                if now == recorded {
                    OwnerState::Alive
                } else {
                    OwnerState::Gone
                }
            }
            (ProcessProbe::Running { .. }, _) => OwnerState::PidInUse,
        }
    }
}

/// Answers whether a run's owner is alive.
pub trait Liveness: Send + Sync {
    /// This machine's host name, as recorded in [`RunOwner::host`].
    fn this_host(&self) -> &str;

    /// Whether process `pid` on this host exists.
    fn is_alive(&self, pid: u32) -> bool;

    /// What is known about process `pid` on this host. The default asks
    /// [`is_alive`](Self::is_alive) and knows no start times.
    fn probe(&self, pid: u32) -> ProcessProbe {
        if self.is_alive(pid) {
            ProcessProbe::Running { start_ticks: None }
        } else {
            ProcessProbe::Gone
        }
    }

    /// How `record`'s owner stands, by its pid alone (the run folder's
    /// lock is not tried: see [`Liveness::owner_state_with`]).
    fn owner_state(&self, record: &RunRecord) -> OwnerState {
        record.owner_state(self.this_host(), |pid| self.probe(pid))
    }

    /// How `record`'s owner stands, trying its run folder's lock with
    /// `lock` when the record says its owner holds one.
    fn owner_state_with(&self, record: &RunRecord, lock: &dyn Fn() -> LockProbe) -> OwnerState {
        record.owner_state_with(self.this_host(), |pid| self.probe(pid), lock)
    }

    /// Whether `record` says `running` but its owner on this host is gone,
    /// by its pid alone.
    fn is_orphaned(&self, record: &RunRecord) -> bool {
        self.owner_state(record) == OwnerState::Gone
    }

    /// Whether `record` says `running` but its owner on this host is gone,
    /// trying the run folder's lock with `lock`.
    fn is_orphaned_with(&self, record: &RunRecord, lock: &dyn Fn() -> LockProbe) -> bool {
        self.owner_state_with(record, lock) == OwnerState::Gone
    }
}

/// The real check: `/proc/<pid>/stat` on this host. Where `/proc` does not
/// show the process (not mounted, or mounted with `hidepid` and the process
/// is another user's), `kill(pid, 0)` says whether it exists, without its
/// start time: such an owner is [`OwnerState::PidInUse`], never taken for
/// gone while it runs.
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

    /// The owner record for the current process: its pid, this host, and
    /// its start time (left out when `/proc` cannot be read).
    pub fn current_owner(&self) -> RunOwner {
        RunOwner {
            pid: std::process::id(),
            host: self.host.clone(),
            start_ticks: ProcStat::read_self().ok().map(|s| s.start_ticks),
            lock: false,
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
        matches!(self.probe(pid), ProcessProbe::Running { .. })
    }

    fn probe(&self, pid: u32) -> ProcessProbe {
        if pid == 0 || i32::try_from(pid).is_err() {
            return ProcessProbe::Gone;
        }
        match ProcStat::read(pid) {
            Ok(stat) if stat.is_dead() => ProcessProbe::Gone,
            Ok(stat) => ProcessProbe::Running {
                start_ticks: Some(stat.start_ticks),
            },
            // Not in /proc: gone, or hidden from this user (`/proc` mounted
            // with `hidepid`); `kill(pid, 0)` tells them apart.
            Err(_) => kill_probe(pid),
        }
    }
}

/// `kill(pid, 0)`: whether a process exists, without its start time.
fn kill_probe(pid: u32) -> ProcessProbe {
    let Ok(raw) = i32::try_from(pid) else {
        return ProcessProbe::Gone;
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        // EPERM: the process exists but belongs to someone else.
        Ok(()) | Err(nix::errno::Errno::EPERM) => ProcessProbe::Running { start_ticks: None },
        Err(_) => ProcessProbe::Gone,
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

    fn running(owner: RunOwner) -> RunRecord {
        let mut rec = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        rec.status = RunStatus::Running;
        rec.owner = Some(owner);
        rec
    }

    fn owner(pid: u32, host: &str, start_ticks: Option<u64>) -> RunOwner {
        RunOwner {
            pid,
            host: host.into(),
            start_ticks,
            lock: false,
        }
    }

    #[test]
    fn the_start_time_tells_the_owner_from_a_process_that_reused_its_pid() {
        let alive_at = |ticks| {
            move |_| ProcessProbe::Running {
                start_ticks: Some(ticks),
            }
        };
        let rec = running(owner(42, "h", Some(100)));
        assert_eq!(rec.owner_state("h", alive_at(100)), OwnerState::Alive);
        assert_eq!(rec.owner_state("h", alive_at(250)), OwnerState::Gone);
        assert_eq!(
            rec.owner_state("h", |_| ProcessProbe::Gone),
            OwnerState::Gone
        );
        // The start time could not be read: the pid is in use, no more.
        let unknown = |_| ProcessProbe::Running { start_ticks: None };
        assert_eq!(rec.owner_state("h", unknown), OwnerState::PidInUse);
        assert_eq!(rec.owner_state("other", alive_at(1)), OwnerState::Unknown);
    }

    #[test]
    fn older_records_without_a_start_time_keep_the_older_rule() {
        let rec = running(owner(42, "h", None));
        let alive = |_| ProcessProbe::Running {
            start_ticks: Some(7),
        };
        assert_eq!(rec.owner_state("h", alive), OwnerState::PidInUse);
        assert_eq!(
            rec.owner_state("h", |_| ProcessProbe::Gone),
            OwnerState::Gone
        );
        let mut no_owner = rec.clone();
        no_owner.owner = None;
        assert_eq!(no_owner.owner_state("h", alive), OwnerState::Unknown);
        let mut done = rec;
        done.status = RunStatus::Passed;
        assert_eq!(done.owner_state("h", alive), OwnerState::NotRunning);
    }

    #[test]
    fn pid_1_or_a_reused_pid_cannot_keep_a_dead_run_running() {
        let live = SystemLiveness::new();
        let init = ProcStat::read(1).unwrap();
        // A record naming pid 1, which is alive but started at another time.
        let rec = running(owner(1, live.this_host(), Some(init.start_ticks + 1)));
        assert!(live.is_orphaned(&rec));
        // A record naming this very process is alive.
        let rec = running(live.current_owner());
        assert_eq!(live.owner_state(&rec), OwnerState::Alive);
        // An older record naming pid 1 without a start time: the older rule.
        let rec = running(owner(1, live.this_host(), None));
        assert_eq!(live.owner_state(&rec), OwnerState::PidInUse);
        assert!(!live.is_orphaned(&rec));
    }

    #[test]
    fn a_lock_owning_record_is_judged_by_its_lock_alone() {
        let mut o = owner(1, "h", Some(100));
        o.lock = true;
        let rec = running(o);
        let alive = |_| ProcessProbe::Running {
            start_ticks: Some(100),
        };
        // pid 1 with its real start time, but nobody holds the lock: gone.
        let free = rec.owner_state_with("h", alive, || LockProbe::Free);
        assert_eq!(free, OwnerState::Gone);
        let held = rec.owner_state_with("h", |_| ProcessProbe::Gone, || LockProbe::Held);
        assert_eq!(held, OwnerState::Alive);
        // The lock could not be tried: the pid never proves more than use.
        let unknown = rec.owner_state_with("h", alive, || LockProbe::Unknown);
        assert_eq!(unknown, OwnerState::PidInUse);
        let unknown = rec.owner_state_with("h", |_| ProcessProbe::Gone, || LockProbe::Unknown);
        assert_eq!(unknown, OwnerState::Gone);
        // Another host's lock is not this host's to try.
        let elsewhere = rec.owner_state_with("other", alive, || panic!("not asked"));
        assert_eq!(elsewhere, OwnerState::Unknown);
        // A record without the flag keeps the pid rule; the lock is not asked.
        let old = running(owner(1, "h", Some(100)));
        let by_pid = old.owner_state_with("h", alive, || panic!("not asked"));
        assert_eq!(by_pid, OwnerState::Alive);
    }

    #[test]
    fn the_lock_flag_is_written_only_when_true() {
        let mut o = owner(1, "h", Some(100));
        let plain = serde_json::to_value(&o).unwrap();
        assert!(plain.get("lock").is_none());
        o.lock = true;
        let locked = serde_json::to_value(&o).unwrap();
        assert_eq!(locked["lock"], true);
        let back: RunOwner = serde_json::from_value(locked).unwrap();
        assert!(back.lock);
    }

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        let live = SystemLiveness::new();
        assert!(live.is_alive(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!live.is_alive(pid));
        assert!(!live.is_alive(0));
        let me = live.current_owner();
        assert_eq!(me.host, live.this_host());
        assert!(me.start_ticks.is_some());
    }

    #[test]
    fn a_zombie_owner_is_gone() {
        let live = SystemLiveness::new();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not reaped yet: a zombie once it exits.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while ProcStat::read(pid).is_ok_and(|s| !s.is_dead()) {
            assert!(std::time::Instant::now() < deadline, "child never exited");
            std::thread::yield_now();
        }
        assert_eq!(live.probe(pid), ProcessProbe::Gone);
        child.wait().unwrap();
    }
}

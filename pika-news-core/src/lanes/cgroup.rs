//! One cgroup per lane (`pika-news-lane-<lane>-<fence>-<server pid>-<n>`), with
//! `[lanes]`'s limits: everything the lane starts stays in it, whatever it
//! does with sessions, process groups or its supervisor, and it is ended as
//! a whole with `cgroup.kill` once the lane is over. The lane's outcome says
//! what was really stopped and which limit it hit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use pikaci_core::FailureKind;
use pikaci_core::cgroup::{Cgroup, CgroupError, CgroupLimits, CgroupRoot, LimitsHit};

use super::limits::{LaneLimits, mem_total};
use crate::db::LaneStatus;

/// A lane run's cgroup to make: where, and for which lane run.
#[derive(Debug, Clone)]
pub struct LaneCgroupRequest {
    /// Where lanes' cgroups are made, and their limits.
    pub cgroups: LaneCgroups,
    /// The lane run (its id, as shown).
    pub lane: String,
    /// Its fencing token.
    pub fence: i64,
}

impl LaneCgroupRequest {
    pub(crate) fn create(&self) -> Result<LaneCgroup, CgroupError> {
        self.cgroups.create(&self.lane, self.fence)
    }
}

/// Where lanes' cgroups are made, and their limits.
#[derive(Debug, Clone)]
pub struct LaneCgroups {
    root: Arc<CgroupRoot>,
    limits: CgroupLimits,
}

impl LaneCgroups {
    /// Lanes' cgroups under `root`, each with `limits`.
    pub fn new(root: CgroupRoot, limits: CgroupLimits) -> Self {
        Self {
            root: Arc::new(root),
            limits,
        }
    }

    /// The limits each lane gets.
    pub fn limits(&self) -> CgroupLimits {
        self.limits
    }

    /// Makes the cgroup of one run of a lane (the server's pid in the name:
    /// servers of other data folders on this host number lanes too; and a
    /// count of those this process made).
    fn create(&self, lane: &str, fence: i64) -> Result<LaneCgroup, CgroupError> {
        // Two schedulers of one process (of two repositories, or tests) may
        // run lanes of the same id and fence.
        static MADE: AtomicU64 = AtomicU64::new(0);
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{lane}-{fence}-{}-{n}", std::process::id());
        Ok(LaneCgroup {
            group: Some(self.root.create(&name, &self.limits)?),
            limits: self.limits,
            killed_early: Arc::default(),
        })
    }

    /// Where they are made, and how (for the start-up log).
    pub fn root(&self) -> &CgroupRoot {
        &self.root
    }
}

/// Finds where lanes' cgroups can be made, at the server's start, and says
/// in the log which mode lanes run in and why. `None` (a warning says why):
/// lanes are stopped by their process group and supervisor only, and
/// `[lanes]`'s limits are not enforced.
pub fn at_start(limits: &LaneLimits) -> Option<LaneCgroups> {
    let root = match CgroupRoot::detect() {
        Ok(root) => root,
        Err(e) => {
            tracing::warn!(
                error = %e.with_causes(),
                "lanes run without a cgroup of their own (cgroup v2 is not writable here): a lane is stopped through its process group and job supervisor only, and [lanes] memory_max, pids_max and cpu_weight are not enforced"
            );
            return None;
        }
    };
    sweep_dead_servers_lanes(&root);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let wanted = limits.resolve(mem_total(&meminfo));
    // Limits this machine cannot enforce are dropped with a warning rather
    // than failing every lane.
    let probe = format!("pika-news-probe-{}", std::process::id());
    let limits = match root.create(&probe, &wanted).and_then(|g| g.remove()) {
        Ok(()) => wanted,
        Err(e) => {
            tracing::warn!(error = %e.with_causes(), "lanes get a cgroup of their own but no limits: [lanes] memory_max, pids_max and cpu_weight cannot be set here");
            CgroupLimits::default()
        }
    };
    tracing::info!(
        memory_max = ?limits.memory_max,
        pids_max = ?limits.pids_max,
        cpu_weight = ?limits.cpu_weight,
        "lanes: {root}"
    );
    Some(LaneCgroups::new(root, limits))
}

/// Ends the lane cgroups of servers of this host that died (SIGKILL, a
/// crash), whatever their lanes did with their supervisors, once a lane
/// could have stopped by itself: a dead server's supervisor stops its lane
/// within the lane grace, and a pikaci lane records its run's end in it.
/// Needs a tokio runtime (it waits on one).
fn sweep_dead_servers_lanes(root: &CgroupRoot) {
    // Those already empty (their supervisor stopped them) go at once.
    let empty = |name: &str| {
        is_stale(name)
            && std::fs::read_to_string(root.dir().join(name).join("cgroup.procs"))
                .is_ok_and(|p| p.trim().is_empty())
    };
    root.sweep(PREFIX, empty);
    let stale: Vec<String> = match std::fs::read_dir(root.dir()) {
        Ok(entries) => entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with(PREFIX) && is_stale(n))
            .collect(),
        Err(_) => return,
    };
    if stale.is_empty() {
        return;
    }
    let root = root.clone();
    let wait = super::limits::LANE_KILL_GRACE + pikaci_core::engine::process::SUPERVISOR_MARGIN;
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        let swept = tokio::task::spawn_blocking(move || {
            root.sweep(PREFIX, |name| stale.iter().any(|s| s == name))
        })
        .await
        .unwrap_or_default();
        for (name, held) in swept {
            tracing::warn!(cgroup = %name, processes = held, "ended a dead server's lane cgroup");
        }
    });
}

/// The start of every lane cgroup's name.
const PREFIX: &str = "pika-news-lane-";

/// Whether a lane cgroup's server (the pid in its name) is gone. A pid
/// that is alive is taken as its server's, even if reused: such a cgroup is
/// left for a later start.
fn is_stale(name: &str) -> bool {
    let mut fields = name.rsplit('-');
    let (Some(_n), Some(pid)) = (fields.next(), fields.next()) else {
        return false;
    };
    pid.parse::<u32>()
        .is_ok_and(|pid| pikaci_core::ProcStat::read(pid).map_or(true, |s| s.is_dead()))
}

/// One lane's cgroup, from its start to its end. Dropped before its end
/// (the lane's future dropped), it kills what is in it and is removed.
#[derive(Debug)]
pub(crate) struct LaneCgroup {
    group: Option<Cgroup>,
    limits: CgroupLimits,
    /// Processes its killer ended (at the lane's grace), before its end.
    killed_early: Arc<AtomicUsize>,
}

impl Drop for LaneCgroup {
    fn drop(&mut self) {
        if let Some(group) = self.group.take() {
            let _ = group.remove();
        }
    }
}

/// What ending a lane's cgroup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CgroupEnd {
    /// Processes still in it when the lane was over, all killed.
    pub(crate) stopped: usize,
    /// What its limits did.
    pub(crate) hit: LimitsHit,
    /// Why it could not be emptied or removed, if so.
    pub(crate) error: Option<String>,
}

impl LaneCgroup {
    /// Its path in the v2 hierarchy (what the supervisor waits for).
    pub(crate) fn path(&self) -> &str {
        self.group.as_ref().map_or("", Cgroup::v2_path)
    }

    /// Ends every process of the lane at once (see [`Cgroup::killer`]).
    pub(crate) fn killer(&self) -> Option<pikaci_core::engine::process::KillAll> {
        let group = self.group.as_ref()?;
        Some(Arc::new(group.killer(self.killed_early.clone())))
    }

    /// Moves the lane's first process in.
    pub(crate) fn adopt(&self, pid: u32) -> Result<(), CgroupError> {
        match &self.group {
            Some(group) => group.add(pid),
            None => Ok(()),
        }
    }

    /// Kills whatever of the lane is left and removes the cgroup.
    pub(crate) fn end(mut self) -> CgroupEnd {
        let Some(group) = self.group.take() else {
            return CgroupEnd {
                stopped: 0,
                hit: LimitsHit::default(),
                error: None,
            };
        };
        let hit = group.limits_hit();
        let early = self.killed_early.load(Ordering::Relaxed);
        let (stopped, mut error) = match group.kill() {
            Ok(n) => (n + early, None),
            Err(e) => (early, Some(e.to_string())),
        };
        if let Err(e) = group.remove()
            && error.is_none()
        {
            error = Some(e.to_string());
        }
        CgroupEnd {
            stopped,
            hit,
            error,
        }
    }

    /// The limits it was made with.
    pub(crate) fn limits(&self) -> CgroupLimits {
        self.limits
    }
}

impl CgroupEnd {
    /// The lane's outcome, told what its cgroup saw: a limit reached fails
    /// a lane that would have passed and says which; the processes killed
    /// at the end are counted in the message.
    pub(crate) fn amend(
        &self,
        limits: CgroupLimits,
        status: LaneStatus,
        failure: Option<FailureKind>,
        message: String,
    ) -> (LaneStatus, Option<FailureKind>, String) {
        let mut notes = Vec::new();
        if self.hit.oom_kills > 0 {
            notes.push(format!(
                "the lane reached its memory limit ({}): the kernel killed {} of its processes",
                limits.memory_max.map_or_else(
                    || "memory_max".to_owned(),
                    |m| format!("memory_max {m} bytes")
                ),
                self.hit.oom_kills
            ));
        }
        if self.hit.forks_refused > 0 {
            notes.push(format!(
                "the lane reached its process limit ({}): {} forks were refused",
                limits
                    .pids_max
                    .map_or_else(|| "pids_max".to_owned(), |p| format!("pids_max {p}")),
                self.hit.forks_refused
            ));
        }
        notes.push(match self.stopped {
            0 => "nothing of it was left in its cgroup".to_owned(),
            1 => "stopped 1 process left in the lane's cgroup".to_owned(),
            n => format!("stopped {n} processes left in the lane's cgroup"),
        });
        if let Some(e) = &self.error {
            notes.push(format!("its cgroup could not be cleaned up: {e}"));
        }
        let limited = self.hit.oom_kills > 0 || self.hit.forks_refused > 0;
        let (status, failure) = match (status, limited) {
            (LaneStatus::Passed, true) => (LaneStatus::Failed, Some(FailureKind::TestFailure)),
            other => (other.0, failure),
        };
        let message = match message.split_once("; the lane's processes were stopped") {
            Some((head, _)) => head.to_owned(),
            None if limited && message == "passed" => "its command exited with 0".to_owned(),
            None => message,
        };
        (status, failure, format!("{message}; {}", notes.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(stopped: usize, oom_kills: u64, forks_refused: u64) -> CgroupEnd {
        CgroupEnd {
            stopped,
            hit: LimitsHit {
                oom_kills,
                forks_refused,
            },
            error: None,
        }
    }

    #[test]
    fn only_a_cgroup_whose_server_is_gone_is_stale() {
        assert!(!is_stale(&format!("{PREFIX}3-1-{}-0", std::process::id())));
        // Above the largest pid Linux hands out.
        assert!(is_stale(&format!("{PREFIX}3-1-{}-0", 1u32 << 23)));
        assert!(!is_stale("pika-news-lane-x"));
    }

    #[test]
    fn the_message_says_what_was_stopped_and_which_limit_was_hit() {
        let limits = CgroupLimits {
            memory_max: Some(64 << 20),
            pids_max: Some(200),
            cpu_weight: None,
        };
        let (status, kind, msg) = end(3, 0, 0).amend(
            limits,
            LaneStatus::Failed,
            Some(FailureKind::Timeout),
            "timed out after 3s; the lane's processes were stopped".into(),
        );
        assert_eq!(
            (status, kind),
            (LaneStatus::Failed, Some(FailureKind::Timeout))
        );
        assert_eq!(
            msg,
            "timed out after 3s; stopped 3 processes left in the lane's cgroup"
        );
        let (status, kind, msg) =
            end(0, 0, 42).amend(limits, LaneStatus::Passed, None, "passed".into());
        assert_eq!(
            (status, kind),
            (LaneStatus::Failed, Some(FailureKind::TestFailure))
        );
        assert_eq!(
            msg,
            "its command exited with 0; the lane reached its process limit (pids_max 200): 42 forks were refused; \
             nothing of it was left in its cgroup"
        );
        let (_, _, msg) = end(1, 1, 0).amend(
            limits,
            LaneStatus::Failed,
            Some(FailureKind::TestFailure),
            "the lane was killed by a signal".into(),
        );
        assert!(
            msg.contains("memory limit (memory_max 67108864 bytes): the kernel killed 1")
                && msg.ends_with("stopped 1 process left in the lane's cgroup"),
            "{msg}"
        );
    }
}

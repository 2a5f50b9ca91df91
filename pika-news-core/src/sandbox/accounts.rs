//! [`LaneAccounts`]: who each lane runs as. Either every lane as the one
//! `run_as_user` ([`LaneAccounts::Shared`]), or each running lane as a uid
//! of its own from `uid_range` ([`LaneAccounts::Pool`]), so lanes cannot
//! reach each other's worktrees, homes, processes or runs.
//!
//! A pooled uid is taken for one lane ([`LaneAccount`]) and goes back to the
//! pool only once no process of it is left: when the lane ends, everything
//! running as that uid is killed ([`LaneAccount::end_processes`]), which also
//! catches what left the lane's process group. A uid that still has
//! processes (or that some process outside pika-news uses) is never handed
//! out.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use camino::Utf8Path;

use super::settings::{LaneSettings, UidRange};
use super::user::{LaneUser, SandboxError};

/// How many times the processes of an ended lane's uid are killed before
/// the uid is given up on (a process forking as fast as it is killed).
const KILL_ROUNDS: usize = 20;

/// Who lanes run as.
#[derive(Debug)]
pub enum LaneAccounts {
    /// Every lane as one user (`[lanes] run_as_user`).
    Shared(LaneUser),
    /// Each running lane as a uid of its own (`[lanes] uid_range`).
    Pool(UidPool),
}

impl LaneAccounts {
    /// From `[lanes]`: `None` when lanes run as the service.
    pub fn from_settings(settings: &LaneSettings) -> Result<Option<Self>, SandboxError> {
        match (&settings.run_as_user, settings.uid_range) {
            (Some(_), Some(_)) => Err(SandboxError::UserAndRange),
            (Some(name), None) => Ok(Some(Self::Shared(LaneUser::lookup(name)?))),
            (None, Some(range)) => {
                let gid = settings.lane_gid.unwrap_or(range.first());
                Ok(Some(Self::Pool(UidPool::new(range, gid)?)))
            }
            (None, None) => Ok(None),
        }
    }

    /// The group every lane has (the group that may create run folders).
    pub fn gid(&self) -> u32 {
        match self {
            Self::Shared(user) => user.gid(),
            Self::Pool(pool) => pool.gid,
        }
    }

    /// An account for one lane: the shared user, or a free uid of the pool.
    pub fn take(&self) -> Result<LaneAccount, SandboxError> {
        match self {
            Self::Shared(user) => Ok(LaneAccount {
                user: user.clone(),
                pool: None,
                ended: false,
            }),
            Self::Pool(pool) => pool.take(),
        }
    }

    /// Who owns a leftover lane folder at `dir` (a dead server's lane), as a
    /// user that can remove what is in it; `None` when it is nobody of ours.
    pub fn owner_of(&self, dir: &Utf8Path) -> Option<LaneUser> {
        use std::os::unix::fs::MetadataExt as _;
        match self {
            Self::Shared(user) => Some(user.clone()),
            Self::Pool(pool) => {
                let uid = std::fs::symlink_metadata(dir).ok()?.uid();
                pool.range
                    .contains(uid)
                    .then(|| LaneUser::pooled(uid, pool.gid))
            }
        }
    }
}

/// The uids of `uid_range`, each lent to one running lane at a time.
#[derive(Debug)]
pub struct UidPool {
    range: UidRange,
    gid: u32,
    lent: Arc<Mutex<BTreeSet<u32>>>,
}

impl UidPool {
    /// A pool over `range`, its lanes in group `gid`. The service's own uid
    /// and gid, and root, are refused.
    pub fn new(range: UidRange, gid: u32) -> Result<Self, SandboxError> {
        let me = nix::unistd::Uid::effective().as_raw();
        let my_gid = nix::unistd::Gid::effective().as_raw();
        if range.contains(me) || gid == 0 || gid == my_gid {
            return Err(SandboxError::RangeNotSeparate {
                range: range.to_string(),
                gid,
            });
        }
        Ok(Self {
            range,
            gid,
            lent: Arc::default(),
        })
    }

    /// A uid no lane holds and no process of this host runs as.
    fn take(&self) -> Result<LaneAccount, SandboxError> {
        let busy = uids_in_use();
        let mut lent = self.lent.lock().unwrap_or_else(|e| e.into_inner());
        let uid = self
            .range
            .iter()
            .find(|u| !lent.contains(u) && !busy.contains(u))
            .ok_or_else(|| SandboxError::NoFreeUid {
                range: self.range.to_string(),
            })?;
        lent.insert(uid);
        Ok(LaneAccount {
            user: LaneUser::pooled(uid, self.gid),
            pool: Some(self.lent.clone()),
            ended: false,
        })
    }
}

/// The account one lane runs as. A pooled uid returns to its pool when this
/// is dropped, and only if [`end_processes`](Self::end_processes) saw none
/// of its processes left.
#[derive(Debug)]
pub struct LaneAccount {
    user: LaneUser,
    pool: Option<Arc<Mutex<BTreeSet<u32>>>>,
    ended: bool,
}

impl LaneAccount {
    /// The user the lane runs as.
    pub fn user(&self) -> &LaneUser {
        &self.user
    }

    /// For a pooled uid: kills every process running as it (what the lane
    /// left behind, a daemon that left its group included) and says
    /// whether none is left. A shared user's processes belong to other
    /// lanes too: nothing is killed, and `true`.
    pub fn end_processes(&mut self) -> bool {
        if self.pool.is_none() {
            self.ended = true;
            return true;
        }
        let uid = self.user.uid();
        for _ in 0..KILL_ROUNDS {
            if !uids_in_use().contains(&uid) {
                self.ended = true;
                return true;
            }
            kill_all_of(&self.user);
        }
        self.ended = !uids_in_use().contains(&uid);
        if !self.ended {
            tracing::warn!(
                uid,
                "processes of an ended lane's uid are still running: the uid is not given out again"
            );
        }
        self.ended
    }
}

impl Drop for LaneAccount {
    fn drop(&mut self) {
        if let (Some(pool), true) = (&self.pool, self.ended) {
            pool.lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&self.user.uid());
        }
    }
}

/// `kill(-1, SIGKILL)` as `user`: every process that uid may signal (its
/// own), but the one sending. Run through `sh`, switched like a lane.
fn kill_all_of(user: &LaneUser) {
    let mut kill = std::process::Command::new("/bin/sh");
    kill.args(["-c", "kill -KILL -1"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    user.apply_std(&mut kill);
    let _ = kill.status();
}

/// Every uid (real, effective, saved or file system) some process of this
/// host runs as, from `/proc/<pid>/status`.
pub fn uids_in_use() -> BTreeSet<u32> {
    let mut uids = BTreeSet::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return uids;
    };
    for entry in procs.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        // A zombie holds no resources and cannot act: it is not "in use".
        if status
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z'))
        {
            continue;
        }
        if let Some(line) = status.lines().find(|l| l.starts_with("Uid:")) {
            uids.extend(
                line[4..]
                    .split_whitespace()
                    .filter_map(|u| u.parse::<u32>().ok()),
            );
        }
    }
    uids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_lends_each_uid_once_and_refuses_the_services_own() {
        let range = UidRange::new(3_000_000, 3_000_001).unwrap();
        let pool = LaneAccounts::Pool(UidPool::new(range, 3_000_000).unwrap());
        let mut a = pool.take().unwrap();
        let mut b = pool.take().unwrap();
        assert_ne!(a.user().uid(), b.user().uid());
        let err = pool.take().unwrap_err();
        assert!(matches!(err, SandboxError::NoFreeUid { .. }), "{err}");
        assert!(a.end_processes() && b.end_processes());
        let freed = a.user().uid();
        drop(a);
        assert_eq!(pool.take().unwrap().user().uid(), freed);

        let me = nix::unistd::Uid::effective().as_raw();
        let mine = UidRange::new(me.max(1000), me.max(1000)).unwrap();
        if me >= 1000 {
            assert!(UidPool::new(mine, 3_000_000).is_err());
        }
        assert!(UidPool::new(range, 0).is_err());
    }

    #[test]
    fn ending_a_pooled_lane_kills_what_its_uid_left_running_then_lends_the_uid_again() {
        use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
        let uid = 3_000_500;
        let range = UidRange::new(uid, uid).unwrap();
        let pool = LaneAccounts::Pool(UidPool::new(range, uid).unwrap());
        let mut account = pool.take().unwrap();
        // What a lane left behind, in a session of its own.
        let mut left = std::process::Command::new("setsid")
            .args(["sleep", "1000"])
            .uid(uid)
            .gid(uid)
            .current_dir("/")
            .spawn()
            .expect("setsid (util-linux) and sleep run as a pooled uid");
        assert!(account.end_processes());
        assert_eq!(left.wait().unwrap().signal(), Some(libc::SIGKILL));
        assert!(!uids_in_use().contains(&uid));
        drop(account);
        assert_eq!(pool.take().unwrap().user().uid(), uid);
    }

    #[test]
    fn a_uid_some_process_runs_as_is_busy() {
        let me = nix::unistd::Uid::effective().as_raw();
        assert!(uids_in_use().contains(&me));
    }
}

//! One cgroup per host job (`pikaci-job-<run>-<job>-<pikaci's pid>`), under
//! pikaci's own:
//! the job's supervisor is moved in before it starts the job, and when the
//! job is over `cgroup.kill` ends whatever it left, a daemon of a job that
//! stopped or killed its supervisor included.

use std::sync::Arc;

use crate::cgroup::{Cgroup, CgroupLimits, CgroupRoot};
use crate::ids::{JobId, RunId};

/// Whether a host executor gives each job a cgroup.
#[derive(Debug, Clone, Default)]
pub enum JobCgroups {
    /// No: the job is stopped through its process group and supervisor.
    #[default]
    Off,
    /// No, because cgroups cannot be used here (the reason goes to each
    /// job's `host.log`).
    Unavailable(String),
    /// Yes, under this root.
    At(Arc<CgroupRoot>),
}

impl JobCgroups {
    /// Cgroups where this machine allows them (see [`CgroupRoot::detect`]),
    /// else why not.
    pub fn detect() -> Self {
        match CgroupRoot::detect() {
            Ok(root) => {
                // What a pikaci that died (SIGKILL, a lane's stop before its
                // handlers were set) left, once its supervisors have emptied
                // it: its pid is in each name.
                let dir = root.dir().to_owned();
                root.sweep("pikaci-", |name| {
                    owner_is_gone(name)
                        && std::fs::read_to_string(dir.join(name).join("cgroup.procs"))
                            .is_ok_and(|p| p.trim().is_empty())
                });
                Self::At(Arc::new(root))
            }
            Err(e) => Self::Unavailable(e.with_causes()),
        }
    }

    /// Makes the cgroup of one job; the line for `host.log` says where, or
    /// why the job has none.
    pub fn create(&self, run: &RunId, job: &JobId) -> (Option<Cgroup>, Option<String>) {
        match self {
            Self::Off => (None, None),
            Self::Unavailable(why) => (
                None,
                Some(format!(
                    "no cgroup for the job ({why}): it is stopped through its process group and supervisor"
                )),
            ),
            Self::At(root) => {
                let name = format!("pikaci-job-{run}-{job}-{}", std::process::id());
                match root.create(&name, &CgroupLimits::default()) {
                    Ok(group) => {
                        let line = format!("job cgroup: {}", group.v2_dir().display());
                        (Some(group), Some(line))
                    }
                    Err(e) => (
                        None,
                        Some(format!(
                            "no cgroup for the job ({}): it is stopped through its process group and supervisor",
                            e.with_causes()
                        )),
                    ),
                }
            }
        }
    }
}

/// Whether the pikaci that made cgroup `name` (`pikaci-job-...-<pid>`,
/// `pikaci-probe-<n>-<pid>`) is gone. A pid that is alive is taken as its
/// owner's, even if reused: that cgroup is left for a later sweep.
fn owner_is_gone(name: &str) -> bool {
    name.rsplit('-')
        .next()
        .and_then(|pid| pid.parse::<u32>().ok())
        .is_some_and(|pid| crate::ProcStat::read(pid).map_or(true, |s| s.is_dead()))
}

/// Kills what is left in a job's cgroup and removes it (on the blocking
/// pool: it waits for the kernel); how many processes were left, or why
/// the cgroup could not be emptied.
pub(crate) async fn end(group: Option<Cgroup>) -> Option<Result<usize, String>> {
    let group = group?;
    tokio::task::spawn_blocking(move || {
        let killed = group.kill().map_err(|e| e.to_string());
        let removed = group.remove().map_err(|e| e.to_string());
        killed.and_then(|n| removed.map(|()| n))
    })
    .await
    .ok()
}

/// What a job's outcome message says of its cgroup's end.
pub(crate) fn note(ended: &Option<Result<usize, String>>) -> Option<String> {
    match ended {
        None | Some(Ok(0)) => None,
        Some(Ok(1)) => Some("stopped 1 process left in the job's cgroup".to_owned()),
        Some(Ok(n)) => Some(format!("stopped {n} processes left in the job's cgroup")),
        Some(Err(e)) => Some(format!("the job's cgroup could not be emptied: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_cgroup_whose_pikaci_is_gone_is_swept() {
        let me = std::process::id();
        assert!(!owner_is_gone(&format!(
            "pikaci-job-20260324T161238Z-1a2b3c4d-a-{me}"
        )));
        assert!(!owner_is_gone(&format!("pikaci-probe-{me}")));
        // Above the largest pid Linux hands out.
        assert!(owner_is_gone(&format!("pikaci-probe-{}", 1u32 << 23)));
        assert!(!owner_is_gone("pikaci-job-x"));
    }

    #[test]
    fn the_note_counts_what_was_stopped() {
        assert_eq!(note(&None), None);
        assert_eq!(note(&Some(Ok(0))), None);
        assert_eq!(
            note(&Some(Ok(2))).as_deref(),
            Some("stopped 2 processes left in the job's cgroup")
        );
        assert!(note(&Some(Err("busy".into()))).unwrap().contains("busy"));
    }
}

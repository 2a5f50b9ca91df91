//! Which pikaci run a lane made: the one whose `run_started` its own pikaci
//! printed, and only that one.
//!
//! pikaci's stdout is not a trusted channel: a job runs as the same user as
//! the lane's pikaci and can write there (`/proc/<pikaci>/fd/1`), so a line
//! `{"event":"run_started","run_id":"<another run>"}` could make the lane
//! name another branch's run, passed and green. Before a run id is taken:
//!
//! - the run's record must exist and name as its owner the lane's own child
//!   (pikaci writes `run.json`, owner included, before it prints
//!   `run_started`): its pid (no other process can have it while the child
//!   is not reaped), this host, and the child's start time when both know it;
//! - and it must be the lane's first: pikaci announces one run, before any
//!   job starts, so a later `run_started` can only come from a job.
//!
//! A refused id is logged as a warning and never recorded.

use camino::Utf8PathBuf;
use pikaci_core::{ProcStat, RunId, RunOwner};
use pikaci_store::{Store, StoreError};

/// The process a lane started, as a run record would name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneChild {
    /// Its pid.
    pub pid: u32,
    /// When it started (`/proc/<pid>/stat` field 22), when readable.
    pub start_ticks: Option<u64>,
    /// This host, as pikaci records it.
    pub host: String,
}

impl LaneChild {
    /// The child with `pid`, read now (while the child cannot have been reaped).
    pub fn of(pid: u32) -> Self {
        Self {
            pid,
            start_ticks: ProcStat::read(pid).ok().map(|s| s.start_ticks),
            host: pikaci_core::this_host_name(),
        }
    }

    /// Whether `owner` names this child.
    fn is(&self, owner: &RunOwner) -> bool {
        owner.pid == self.pid
            && owner.host == self.host
            && match (owner.start_ticks, self.start_ticks) {
                (Some(a), Some(b)) => a == b,
                // The pid of an unreaped child is proof enough.
                _ => true,
            }
    }
}

/// Why a `run_started` was not taken as the lane's run.
#[derive(Debug, thiserror::Error)]
pub enum RunClaimError {
    /// The lane already has its run.
    #[error(
        "the lane already announced run {first}; a second run_started can only come from a job"
    )]
    Second {
        /// The run it announced first.
        first: RunId,
    },
    /// No readable record for that run.
    #[error("run {run} has no readable record")]
    NoRecord {
        /// The run.
        run: RunId,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The record names no owner, or another process.
    #[error("run {run} was not made by this lane's pikaci (its record names {owner})")]
    NotOurs {
        /// The run.
        run: RunId,
        /// Whom the record names.
        owner: String,
    },
}

/// The runs one lane announced, checked against its child.
#[derive(Debug)]
pub struct RunClaims {
    state_root: Utf8PathBuf,
    child: LaneChild,
    first: Option<RunId>,
}

impl RunClaims {
    /// For a lane whose child is `child`, writing runs into `state_root`.
    pub fn new(state_root: Utf8PathBuf, child: LaneChild) -> Self {
        Self {
            state_root,
            child,
            first: None,
        }
    }

    /// The run taken, if any.
    pub fn run(&self) -> Option<&RunId> {
        self.first.as_ref()
    }

    /// Takes `run` as the lane's run if its record says the lane's child
    /// made it and it is the first (see the module's comment). Reads the
    /// state root: call it off the runtime's threads.
    pub fn claim(&mut self, run: &RunId) -> Result<(), RunClaimError> {
        if let Some(first) = &self.first {
            return Err(RunClaimError::Second {
                first: first.clone(),
            });
        }
        let store: Store = Store::open(self.state_root.clone());
        let record = store
            .run(run)
            .and_then(|dir| dir.record())
            .map_err(|source| RunClaimError::NoRecord {
                run: run.clone(),
                source,
            })?;
        match &record.owner {
            Some(owner) if self.child.is(owner) => {
                self.first = Some(run.clone());
                Ok(())
            }
            owner => Err(RunClaimError::NotOurs {
                run: run.clone(),
                owner: owner.as_ref().map_or("no owner".into(), |o| {
                    format!("pid {} on {}", o.pid, o.host)
                }),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use pikaci_core::RunRecord;

    use super::*;

    const RUN: &str = "20260324T161238Z-1a2b3c4d";
    const OTHER: &str = "20260324T161239Z-00000000";

    fn write(state: &Utf8PathBuf, run: &str, owner: Option<RunOwner>) {
        let mut record = RunRecord::for_test(run);
        record.owner = owner;
        let store: Store = Store::open(state.clone());
        assert!(store.claim_run(&run.parse().unwrap()).unwrap());
        store.persist_run_record(&record).unwrap();
    }

    #[test]
    fn only_the_first_run_its_own_child_made_is_taken() {
        let tmp = tempfile::tempdir().unwrap();
        let state = Utf8PathBuf::try_from(tmp.path().to_owned()).unwrap();
        let me = LaneChild::of(std::process::id());
        let mine = RunOwner {
            pid: me.pid,
            host: me.host.clone(),
            start_ticks: me.start_ticks,
            lock: false,
        };
        write(&state, RUN, Some(mine.clone()));
        write(
            &state,
            OTHER,
            Some(RunOwner {
                pid: 1,
                ..mine.clone()
            }),
        );
        let mut claims = RunClaims::new(state.clone(), me.clone());
        let err = claims.claim(&OTHER.parse().unwrap()).unwrap_err();
        assert!(matches!(err, RunClaimError::NotOurs { .. }), "{err}");
        assert!(err.to_string().contains("pid 1"), "{err}");
        let missing: RunId = "20260324T161240Z-11111111".parse().unwrap();
        assert!(matches!(
            claims.claim(&missing).unwrap_err(),
            RunClaimError::NoRecord { .. }
        ));
        claims.claim(&RUN.parse().unwrap()).unwrap();
        assert_eq!(claims.run().map(RunId::as_str), Some(RUN));
        // Even a record naming the child is refused once the lane has its run.
        let err = claims.claim(&RUN.parse().unwrap()).unwrap_err();
        assert!(matches!(err, RunClaimError::Second { .. }), "{err}");

        // Another start time: not this child (its pid was reused).
        let mut claims = RunClaims::new(state.clone(), me.clone());
        let tmp2 = tempfile::tempdir().unwrap();
        let state2 = Utf8PathBuf::try_from(tmp2.path().to_owned()).unwrap();
        write(
            &state2,
            RUN,
            Some(RunOwner {
                start_ticks: me.start_ticks.map(|t| t + 1),
                ..mine
            }),
        );
        claims.state_root = state2;
        assert!(claims.claim(&RUN.parse().unwrap()).is_err());
        let mut no_owner = RunClaims::new(state.clone(), me);
        let tmp3 = tempfile::tempdir().unwrap();
        let state3 = Utf8PathBuf::try_from(tmp3.path().to_owned()).unwrap();
        write(&state3, RUN, None);
        no_owner.state_root = state3;
        let err = no_owner.claim(&RUN.parse().unwrap()).unwrap_err();
        assert!(err.to_string().contains("no owner"), "{err}");
    }
}

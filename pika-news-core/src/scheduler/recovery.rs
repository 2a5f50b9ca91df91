//! Taking back, at once, the lanes a server of this host left running when
//! it died (a SIGKILL, a crash, a power cut of the process), instead of
//! waiting for their leases to run out.
//!
//! A lane's child is started through `setpriv --pdeathsig TERM`, so when its
//! server dies a pikaci lane's `pikaci` is told to stop: it stops its jobs'
//! process groups (within its own grace) and records the run as cancelled.
//! A restarted server then, for each lane whose owner is gone:
//! - waits while the lane's pikaci run is still `running` under a live
//!   pikaci (it is stopping), so two pikaci runs of one lane never overlap;
//! - finishes the lane from the run's record when the run ended by itself
//!   (it passed, or a job failed) before its server could record it;
//! - otherwise (cancelled, interrupted, no run yet, unreadable) puts the
//!   lane back in the queue under a new fencing token; after
//!   [`MAX_ATTEMPTS`] claims it fails as infrastructure.
//!
//! The old attempt's run stays in the state root with its record and logs;
//! the lane log says what happened, and the next attempt appends to it.

use std::io::Write as _;

use pikaci_core::{FailureKind, RunId, RunRecord, RunStatus, SystemLiveness};
use pikaci_store::Store;

use super::owner::{LaneOwner, OwnerState, start_ticks};
use super::{MAX_ATTEMPTS, Scheduler, SchedulerError};
use crate::db::{HeldLane, LaneStatus};
use crate::lanes::runner::open_lane_log;

/// What to do with a lane whose server is gone.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Its pikaci is still stopping: look again at the next tick.
    Wait,
    /// Its run ended by itself: finish the lane with this.
    Finish(LaneStatus, Option<FailureKind>, String),
    /// Run it again (the reason).
    Requeue(String),
}

/// The verdict for a lane whose pikaci run (if it announced one) has `record`.
pub fn verdict(
    run: Option<(&RunId, Option<&RunRecord>)>,
    orphaned: impl Fn(&RunRecord) -> bool,
) -> Verdict {
    let Some((run_id, record)) = run else {
        return Verdict::Requeue("requeued: its server died before pikaci started a run".into());
    };
    let Some(record) = record else {
        return Verdict::Requeue(format!(
            "requeued: its server died; pikaci run {run_id} cannot be read"
        ));
    };
    match (record.status, record.failure_kind) {
        (RunStatus::Running, _) if !orphaned(record) => Verdict::Wait,
        (RunStatus::Passed, _) => Verdict::Finish(
            LaneStatus::Passed,
            None,
            format!("passed (pikaci run {run_id} finished while its server was down)"),
        ),
        (RunStatus::Failed, None | Some(FailureKind::TestFailure | FailureKind::Timeout)) => {
            Verdict::Finish(
                LaneStatus::Failed,
                Some(FailureKind::TestFailure),
                format!(
                    "{} (pikaci run {run_id} finished while its server was down)",
                    record
                        .why_failed()
                        .unwrap_or_else(|| "a pikaci job failed".to_owned())
                ),
            )
        }
        _ => Verdict::Requeue(format!(
            "requeued: its server died; pikaci run {run_id} was stopped before it finished"
        )),
    }
}

impl Scheduler {
    /// Takes back the lanes of servers of this host that are gone; returns
    /// how many were finished or requeued.
    pub(super) async fn recover_dead_owners(&self) -> Result<usize, SchedulerError> {
        let mut done = 0;
        for lane in self
            .db
            .lanes_held_by_others(&self.owner.to_string())
            .await?
        {
            let Some(owner) = LaneOwner::parse(&lane.owner) else {
                continue;
            };
            if owner.state(&self.owner.host, start_ticks) == OwnerState::Alive {
                continue;
            }
            let verdict = self.judge(&lane).await;
            let applied = match &verdict {
                Verdict::Wait => continue,
                Verdict::Finish(status, kind, message) => {
                    self.db
                        .finish_lane(
                            lane.lane_id,
                            lane.fencing_token,
                            *status,
                            *kind,
                            message.clone(),
                            Some(self.repo.data_dir.lane_log(lane.lane_id).to_string()),
                        )
                        .await?
                }
                Verdict::Requeue(message) => {
                    self.db
                        .requeue_lane(
                            lane.lane_id,
                            lane.fencing_token,
                            message.clone(),
                            MAX_ATTEMPTS,
                        )
                        .await?
                }
            };
            if !applied {
                continue;
            }
            done += 1;
            tracing::warn!(lane_id = %lane.lane_id, dead_owner = %owner, ?verdict, "took back a lane whose server is gone");
            let (Verdict::Finish(_, _, message) | Verdict::Requeue(message)) = &verdict else {
                continue;
            };
            if let Ok(mut log) = open_lane_log(&self.repo.data_dir.lane_log(lane.lane_id)) {
                let _ = writeln!(
                    log,
                    "[pika-news] the server running this lane died; {message}"
                );
            }
            if let Ok(suite) = self.db.lane_suite(lane.lane_id).await {
                let _ = self.db.refresh_suite_status(suite).await;
            }
            let run = lane.pikaci_run_id.clone();
            self.remove_worktree(lane.lane_id, lane.fencing_token, run)
                .await;
        }
        Ok(done)
    }

    /// Reads the lane's pikaci run (off the runtime's threads) and judges it.
    async fn judge(&self, lane: &HeldLane) -> Verdict {
        let run = lane.pikaci_run_id.clone();
        let store: Store = Store::open(self.repo.pikaci_state_root.clone());
        tokio::task::spawn_blocking(move || {
            let record = run
                .as_ref()
                .and_then(|id| store.run(id).and_then(|dir| dir.record()).ok());
            let liveness = SystemLiveness::new();
            verdict(run.as_ref().map(|id| (id, record.as_ref())), |r| {
                store.is_orphaned(r, &liveness)
            })
        })
        .await
        .unwrap_or(Verdict::Wait)
    }
}

#[cfg(test)]
mod tests {
    use pikaci_core::RunOwner;

    use super::*;

    const RUN: &str = "20260324T161238Z-1a2b3c4d";

    fn record(status: RunStatus, kind: Option<FailureKind>) -> RunRecord {
        let mut r = RunRecord::for_test(RUN);
        r.status = status;
        r.failure_kind = kind;
        r
    }

    #[test]
    fn verdicts() {
        let id: RunId = RUN.parse().unwrap();
        let v = |r: Option<&RunRecord>, alive: bool| verdict(Some((&id, r)), |_| !alive);
        assert!(matches!(verdict(None, |_| false), Verdict::Requeue(_)));
        assert!(matches!(v(None, true), Verdict::Requeue(_)));
        let mut running = record(RunStatus::Running, None);
        running.owner = Some(
            serde_json::from_value::<RunOwner>(serde_json::json!({"pid": 7, "host": "here"}))
                .unwrap(),
        );
        assert_eq!(v(Some(&running), true), Verdict::Wait);
        assert!(matches!(v(Some(&running), false), Verdict::Requeue(_)));
        assert!(matches!(
            v(Some(&record(RunStatus::Passed, None)), false),
            Verdict::Finish(LaneStatus::Passed, None, _)
        ));
        let mut failed = record(RunStatus::Failed, None);
        failed.jobs[0].status = RunStatus::Failed;
        failed.jobs[0].exit_code = Some(101);
        assert_eq!(
            v(Some(&failed), false),
            Verdict::Finish(
                LaneStatus::Failed,
                Some(FailureKind::TestFailure),
                format!(
                    "failed: build (exit 101) (pikaci run {RUN} finished while its server was down)"
                )
            ),
            "pikaci's own account of the run, as a lane that saw it end says"
        );
        for kind in [
            FailureKind::Cancelled,
            FailureKind::Interrupted,
            FailureKind::Infrastructure,
        ] {
            assert!(matches!(
                v(Some(&record(RunStatus::Failed, Some(kind))), false),
                Verdict::Requeue(_)
            ));
        }
    }
}

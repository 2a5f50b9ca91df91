//! [`LaneView`]: one lane run as the API shows it, built once from the
//! database rows (the lane row, and the detail row where it was read). Both
//! answers are written from it: ours ([`LaneRun`](super::dto::LaneRun)) and
//! upstream's (`CiLane`, in `compat::view`), so a lane has one shape here
//! however many it has on the wire.

use pikaci_core::FailureKind;

use crate::db::{self, LaneDetail, LaneRunId, LaneStatus, QueueReason};
use crate::lanes::manifest::LaneCommand;

/// Why a lane that has not finished is not done yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// It runs.
    Running,
    /// It was put back in the queue after its runner stopped answering.
    StaleRecovered,
    /// It waits for another lane of its concurrency group.
    BlockedByGroup,
    /// It waits its turn.
    Queued,
}

/// What the detail row adds to a lane run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Facts {
    /// What it is shown as, when it was kept.
    entrypoint: Option<String>,
    /// What it runs (parsed from the stored JSON).
    command: Option<LaneCommand>,
    retry_count: i64,
    rerun_of: Option<LaneRunId>,
    lease_expires_at: Option<String>,
    last_heartbeat_at: Option<String>,
}

/// One lane run, as every answer shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LaneView {
    row: db::Lane,
    /// `None` when only the lane row was read.
    facts: Option<Facts>,
}

impl From<db::Lane> for LaneView {
    fn from(row: db::Lane) -> Self {
        Self { row, facts: None }
    }
}

impl From<LaneDetail> for LaneView {
    fn from(d: LaneDetail) -> Self {
        // A stored command this version cannot read shows as the lane's id.
        let command = d
            .command
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok());
        Self {
            row: d.run,
            facts: Some(Facts {
                entrypoint: d.entrypoint,
                command,
                retry_count: d.retry_count,
                rerun_of: d.rerun_of,
                lease_expires_at: d.lease_expires_at,
                last_heartbeat_at: d.last_heartbeat_at,
            }),
        }
    }
}

impl LaneView {
    fn facts(&self) -> Facts {
        self.facts.clone().unwrap_or_default()
    }

    /// Its status.
    pub(crate) fn status(&self) -> LaneStatus {
        self.row.status
    }

    /// Why it failed.
    pub(crate) fn failure_kind(&self) -> Option<FailureKind> {
        self.row.failure_kind
    }

    /// What it is shown as: the kept entrypoint, else its command, else
    /// the lane's id.
    pub(crate) fn entrypoint(&self) -> String {
        let facts = self.facts();
        facts
            .entrypoint
            .or_else(|| facts.command.as_ref().map(LaneCommand::shown))
            .unwrap_or_else(|| self.row.lane.clone())
    }

    /// The pikaci target it runs, for a pikaci lane.
    pub(crate) fn pikaci_target(&self) -> Option<String> {
        let facts = self.facts.as_ref()?;
        let target = facts.command.as_ref()?.pikaci_target()?;
        Some(target.as_str().to_owned())
    }

    /// Why it is not done yet (`None` once it finished), in upstream's
    /// terms: a lane put back after its runner stopped answering says so
    /// first; else one whose [`queue_reason`](Self::queue_reason) names a
    /// group is blocked by it.
    pub(crate) fn waiting(&self) -> Option<Waiting> {
        match self.row.status {
            LaneStatus::Running => Some(Waiting::Running),
            LaneStatus::Queued if self.row.message.as_deref() == Some(db::STALE_REQUEUED) => {
                Some(Waiting::StaleRecovered)
            }
            LaneStatus::Queued if self.queue_reason().and_then(QueueReason::group).is_some() => {
                Some(Waiting::BlockedByGroup)
            }
            LaneStatus::Queued => Some(Waiting::Queued),
            LaneStatus::Passed | LaneStatus::Failed | LaneStatus::Cancelled => None,
        }
    }

    /// Why it waits, while it is queued (the rule the scheduler claims by).
    pub(crate) fn queue_reason(&self) -> Option<&QueueReason> {
        self.row.queue_reason.as_ref()
    }

    /// How many times it was put back in the queue.
    pub(crate) fn retry_count(&self) -> i64 {
        self.facts.as_ref().map_or(0, |f| f.retry_count)
    }

    /// The lane run it repeats (a rerun).
    pub(crate) fn rerun_of(&self) -> Option<LaneRunId> {
        self.facts.as_ref()?.rerun_of
    }

    /// When its lease ends, while it runs.
    pub(crate) fn lease_expires_at(&self) -> Option<String> {
        self.facts.as_ref()?.lease_expires_at.clone()
    }

    /// When its runner last renewed its lease.
    pub(crate) fn last_heartbeat_at(&self) -> Option<String> {
        self.facts.as_ref()?.last_heartbeat_at.clone()
    }

    /// The lane row.
    pub(crate) fn row(&self) -> &db::Lane {
        &self.row
    }

    /// The row itself, for the fields every answer copies as they are.
    pub(crate) fn into_row(self) -> db::Lane {
        self.row
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::compat::dto::CiLaneStatus;
    use crate::api::compat::view::ci_lane;
    use crate::api::dto::LaneRun;
    use crate::db::SuiteId;

    fn detail() -> LaneDetail {
        LaneDetail {
            run: db::Lane {
                id: LaneRunId::new(7).unwrap(),
                suite_id: SuiteId::new(3).unwrap(),
                lane: "linux".into(),
                title: "Linux tests".into(),
                status: LaneStatus::Failed,
                failure_kind: Some(FailureKind::Timeout),
                pikaci_run_id: Some("20260324T161238Z-1a2b3c4d".parse().unwrap()),
                attempts: 2,
                message: Some("1 of 2 jobs failed".into()),
                created_at: "2026-03-24T16:00:00Z".into(),
                started_at: Some("2026-03-24T16:00:05Z".into()),
                finished_at: Some("2026-03-24T16:01:05Z".into()),
                concurrency_group: None,
                queue_reason: None,
            },
            entrypoint: None,
            command: Some(r#"{"pikaci_target":"pre-merge"}"#.into()),
            retry_count: 1,
            rerun_of: LaneRunId::new(5),
            lease_expires_at: None,
            last_heartbeat_at: None,
        }
    }

    #[test]
    fn both_answers_are_written_from_one_view() {
        let view = LaneView::from(detail());
        let now = "2026-03-24T17:00:00Z".parse().unwrap();
        let ours = LaneRun::from(view.clone());
        let theirs = ci_lane(view, None, now);
        assert_eq!(ours.id, theirs.id);
        assert_eq!(ours.suite_id, theirs.suite_id);
        assert_eq!(
            (ours.lane.as_str(), theirs.lane_id.as_str()),
            ("linux", "linux")
        );
        assert_eq!(ours.title, theirs.title);
        assert_eq!(ours.pikaci_run_id, theirs.pikaci_run_id);
        assert_eq!(
            (ours.attempts, ours.message),
            (theirs.attempts, theirs.message)
        );
        assert_eq!(ours.started_at, theirs.started_at);
        assert_eq!(
            (ours.status, theirs.status),
            (LaneStatus::Failed, CiLaneStatus::Failed)
        );
        assert_eq!(theirs.entrypoint, "pikaci run pre-merge");
        assert_eq!(theirs.pikaci_target_id.as_deref(), Some("pre-merge"));
        assert_eq!(
            (theirs.retry_count, theirs.rerun_of_lane_run_id),
            (1, LaneRunId::new(5))
        );
    }

    #[test]
    fn a_lane_row_alone_waits_plainly_and_shows_its_id() {
        let mut row = detail().run;
        row.status = LaneStatus::Queued;
        let view = LaneView::from(row);
        assert_eq!(view.waiting(), Some(Waiting::Queued));
        assert_eq!(view.entrypoint(), "linux");
        assert_eq!((view.pikaci_target(), view.retry_count()), (None, 0));
    }
}

//! The lane queue: claiming with a lease and a fencing token, heartbeats,
//! finishing, recovery of expired leases, and the lane actions.
//!
//! Every change of a running lane names the fencing token it was claimed
//! with; a runner whose lease was taken over (or a lane failed by hand) finds
//! its token stale and stops writing.

use pikaci_core::FailureKind;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::schema::BRANCH_SUITE;
use super::types::StoredFailureKind;
use super::waiting::Gate;
use super::{BranchId, BranchState, Db, DbError, LaneRunId, LaneStatus, SuiteId};

/// A lane claimed for running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The lane run id.
    pub lane_id: LaneRunId,
    /// The token every later write must present.
    pub fencing_token: i64,
    /// What it runs (stored JSON).
    pub command: Option<String>,
    /// Its own timeout.
    pub timeout_secs: Option<u64>,
    /// The head commit to check out.
    pub head: String,
    /// The suite the lane belongs to.
    pub suite_id: SuiteId,
    /// The branch the suite is of (the default branch for a nightly run).
    pub branch: Option<String>,
}

/// Lane actions from the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneAction {
    /// Queue a new run of the same lane.
    Rerun,
    /// Put this lane back in the queue (a finished or stuck one).
    Requeue,
    /// Mark it failed (its runner, if any, loses its fence).
    Fail,
    /// Release a running lane whose runner is gone: back to the queue.
    Recover,
}

/// id, fencing token, command, timeout, head, suite id, branch name.
type QueuedRow = (
    LaneRunId,
    i64,
    Option<String>,
    Option<i64>,
    String,
    SuiteId,
    Option<String>,
);

impl Db {
    /// When a lease taken now for `seconds` ends, as stored.
    fn lease_until(&self, seconds: u64) -> String {
        let secs = i64::try_from(seconds).unwrap_or(i64::MAX);
        super::stored_time(
            self.clock
                .now()
                .saturating_add(jiff::SignedDuration::from_secs(secs))
                .unwrap_or(jiff::Timestamp::MAX),
        )
    }

    /// Claims the oldest queued lane that may run now: the oldest whose
    /// [`QueueReason`](super::QueueReason) is `NextPass` (fewer lanes running than
    /// [`Db::lane_slots`], and none of its concurrency group; the rule every
    /// answer's reason comes from). `None` when nothing may.
    pub async fn claim_lane(&self, owner: &str, lease_secs: u64) -> Result<Option<Claim>, DbError> {
        let (owner, now, until, rules) = (
            owner.to_owned(),
            self.now_text(),
            self.lease_until(lease_secs),
            self.queue_rules(),
        );
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let gate = Gate::read(&tx, rules)?;
            let lane: Option<LaneRunId> = {
                let mut queued = tx.prepare(
                    "SELECT id, concurrency_group FROM lanes WHERE status = 'queued' ORDER BY id",
                )?;
                let mut rows = queued.query([])?;
                let mut found = None;
                while let Some(r) = rows.next()? {
                    let group: Option<String> = r.get(1)?;
                    if gate.reason(group.as_deref()).claimable() {
                        found = Some(r.get(0)?);
                        break;
                    }
                }
                found
            };
            let Some(lane) = lane else {
                return Ok(None);
            };
            let (lane_id, fence, command, timeout, head, suite_id, branch): QueuedRow = tx.query_row(
                "SELECT l.id, l.fencing_token, l.command, l.timeout_secs, s.head, s.id, b.name
                 FROM lanes l JOIN suites s ON s.id = l.suite_id
                 LEFT JOIN branches b ON b.id = s.branch_id WHERE l.id = ?1",
                [lane],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
            )?;
            let fencing_token = fence + 1;
            tx.execute(
                "UPDATE lanes SET status = 'running', lease_owner = ?2, lease_expires_at = ?3, fencing_token = ?4,
                   last_heartbeat_at = ?5, attempts = attempts + 1, started_at = ?5, finished_at = NULL, failure_kind = NULL, message = NULL,
                   pikaci_run_id = NULL
                 WHERE id = ?1",
                params![lane_id, owner, until, fencing_token, now],
            )?;
            tx.commit()?;
            Ok(Some(Claim {
                lane_id,
                fencing_token,
                command,
                timeout_secs: timeout.map(|t| t as u64),
                head,
                suite_id,
                branch,
            }))
        })
        .await
    }

    /// Extends a lease; `false` when the fence is stale (stop working).
    pub async fn renew_lease(
        &self,
        lane_id: LaneRunId,
        fence: i64,
        lease_secs: u64,
    ) -> Result<bool, DbError> {
        let (until, now) = (self.lease_until(lease_secs), self.now_text());
        self.call(move |c| {
            let n = c.execute(
                "UPDATE lanes SET lease_expires_at = ?3, last_heartbeat_at = ?4 WHERE id = ?1 AND fencing_token = ?2 AND status = 'running'",
                params![lane_id, fence, until, now],
            )?;
            Ok(n == 1)
        })
        .await
    }

    /// Records the pikaci run of a claimed lane; `false` when the fence is stale.
    pub async fn record_pikaci_run(
        &self,
        lane_id: LaneRunId,
        fence: i64,
        run_id: &str,
    ) -> Result<bool, DbError> {
        let run_id = run_id.to_owned();
        self.call(move |c| {
            let n = c.execute(
                "UPDATE lanes SET pikaci_run_id = ?3 WHERE id = ?1 AND fencing_token = ?2 AND status = 'running'",
                params![lane_id, fence, run_id],
            )?;
            Ok(n == 1)
        })
        .await
    }

    /// Finishes a claimed lane; `false` when the fence is stale.
    pub async fn finish_lane(
        &self,
        lane_id: LaneRunId,
        fence: i64,
        status: LaneStatus,
        failure_kind: Option<FailureKind>,
        message: String,
        log_path: Option<String>,
    ) -> Result<bool, DbError> {
        let (failure_kind, now) = (failure_kind.map(StoredFailureKind), self.now_text());
        self.call(move |c| {
            let n = c.execute(
                "UPDATE lanes SET status = ?3, failure_kind = ?4, message = ?5, log_path = COALESCE(?6, log_path),
                   finished_at = ?7, lease_owner = NULL, lease_expires_at = NULL
                 WHERE id = ?1 AND fencing_token = ?2 AND status = 'running'",
                params![lane_id, fence, status, failure_kind, message, log_path, now],
            )?;
            Ok(n == 1)
        })
        .await
    }

    /// Puts running lanes whose lease expired back in the queue (a runner
    /// died); after `max_attempts` they fail as infrastructure instead.
    /// Returns how many were recovered.
    pub async fn recover_expired(&self, max_attempts: i64) -> Result<usize, DbError> {
        let now = self.now_text();
        self.call(move |c| {
            let failed = c.execute(
                "UPDATE lanes SET status = 'failed', failure_kind = 'infrastructure', fencing_token = fencing_token + 1,
                   message = 'its runner stopped answering too many times', finished_at = ?1, lease_owner = NULL
                 WHERE status = 'running' AND lease_expires_at < ?1 AND attempts >= ?2",
                params![now, max_attempts],
            )?;
            let requeued = c.execute(
                "UPDATE lanes SET status = 'queued', fencing_token = fencing_token + 1, lease_owner = NULL,
                   message = ?2, retry_count = retry_count + 1
                 WHERE status = 'running' AND lease_expires_at < ?1",
                params![now, STALE_REQUEUED],
            )?;
            Ok(failed + requeued)
        })
        .await
    }

    /// Cancels the queued and running lanes of a branch's older suites (a new
    /// head superseded them). Running lanes lose their fence and stop.
    pub async fn cancel_superseded(
        &self,
        branch_id: BranchId,
        current_suite: SuiteId,
    ) -> Result<usize, DbError> {
        let now = self.now_text();
        self.call(move |c| {
            Ok(c.execute(
                &format!("UPDATE lanes SET status = 'cancelled', failure_kind = 'cancelled', fencing_token = fencing_token + 1,
                   message = 'cancelled: a newer head superseded it', finished_at = ?3, lease_owner = NULL
                 WHERE status IN ('queued', 'running')
                   AND suite_id IN (SELECT id FROM suites WHERE branch_id = ?1 AND id <> ?2 AND {BRANCH_SUITE})"),
                params![branch_id, current_suite, now],
            )?)
        })
        .await
    }

    /// Closes branches whose ref is gone, cancelling their unfinished lanes.
    pub async fn close_missing_branches(&self, present: Vec<String>) -> Result<usize, DbError> {
        let now = self.now_text();
        self.call(move |c| {
            let tx = c.transaction()?;
            let open: Vec<(BranchId, String)> = {
                let mut stmt = tx.prepare("SELECT id, name FROM branches WHERE state = ?1")?;
                stmt.query_map([BranchState::Open], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?
            };
            let mut closed = 0;
            for (id, name) in open.into_iter().filter(|(_, n)| !present.contains(n)) {
                tx.execute("UPDATE branches SET state = ?3, updated_at = ?2 WHERE id = ?1", params![id, now, BranchState::Closed])?;
                tx.execute(
                    "UPDATE lanes SET status = 'cancelled', failure_kind = 'cancelled', fencing_token = fencing_token + 1,
                       message = ?3, finished_at = ?2, lease_owner = NULL
                     WHERE status IN ('queued', 'running') AND suite_id IN (SELECT id FROM suites WHERE branch_id = ?1)",
                    params![id, now, format!("cancelled: branch {name} is gone")],
                )?;
                closed += 1;
            }
            tx.commit()?;
            Ok(closed)
        })
        .await
    }

    /// Applies a lane action; returns the affected (or new) lane run id.
    pub async fn lane_action(
        &self,
        lane_id: LaneRunId,
        action: LaneAction,
    ) -> Result<LaneRunId, DbError> {
        let now = self.now_text();
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(LaneStatus, SuiteId)> = tx
                .query_row(
                    "SELECT status, suite_id FROM lanes WHERE id = ?1",
                    [lane_id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((status, suite_id)) = row else {
                return Err(DbError::NotFound {
                    what: "lane run",
                    name: lane_id.to_string(),
                });
            };
            let id = apply_action(&tx, lane_id, status, action, &now)?;
            refresh_suite(&tx, suite_id)?;
            tx.commit()?;
            Ok(id)
        })
        .await
    }

    /// The head a branch's newest suite (not nightly run) was made for.
    pub async fn newest_suite(
        &self,
        branch_id: BranchId,
    ) -> Result<Option<(SuiteId, String)>, DbError> {
        self.call(move |c| {
            Ok(c.query_row(
                &format!("SELECT id, head FROM suites WHERE branch_id = ?1 AND {BRANCH_SUITE} ORDER BY id DESC LIMIT 1"),
                [branch_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
        })
        .await
    }

    /// Sets a suite's summary status from its lanes.
    pub async fn refresh_suite_status(&self, suite_id: SuiteId) -> Result<(), DbError> {
        self.call(move |c| Ok(refresh_suite(c, suite_id)?)).await
    }
}

/// The lanes `l` of suite `?1` that count: each lane's newest run (a run a
/// rerun replaced, with a newer run of the same lane in the suite, does not).
const CURRENT_LANES: &str = "FROM lanes l WHERE l.suite_id = ?1 AND NOT EXISTS
    (SELECT 1 FROM lanes n WHERE n.suite_id = l.suite_id AND n.lane = l.lane AND n.id > l.id)";

/// Sets a suite's summary status from its lanes: running while one is queued
/// or running, else failed if one failed, else cancelled if one was, else
/// passed. A lane run that a rerun replaced does not count (the rerun does).
pub(super) fn refresh_suite(c: &rusqlite::Connection, suite_id: SuiteId) -> rusqlite::Result<()> {
    let current = CURRENT_LANES;
    c.execute(
        &format!(
            "UPDATE suites SET status = CASE
                WHEN EXISTS (SELECT 1 {current} AND l.status IN ('queued', 'running')) THEN 'running'
                WHEN EXISTS (SELECT 1 {current} AND l.status = 'failed') THEN 'failed'
                WHEN EXISTS (SELECT 1 {current} AND l.status = 'cancelled') THEN 'cancelled'
                WHEN EXISTS (SELECT 1 {current}) THEN 'passed'
                ELSE status END
             WHERE id = ?1"
        ),
        [suite_id],
    )?;
    Ok(())
}

/// The message of a lane put back in the queue because its runner stopped answering.
pub const STALE_REQUEUED: &str = "requeued: its runner stopped answering";

/// Applies `action` to a lane whose current status is `status`, inside the
/// caller's transaction; returns the affected (or new) lane run id.
pub(super) fn apply_action(
    tx: &rusqlite::Transaction<'_>,
    lane_id: LaneRunId,
    status: LaneStatus,
    action: LaneAction,
    now: &str,
) -> Result<LaneRunId, DbError> {
    Ok(match action {
        LaneAction::Rerun => tx.query_row(
            "INSERT INTO lanes (suite_id, lane, title, status, concurrency_group, command, timeout_secs, entrypoint, rerun_of, created_at)
             SELECT suite_id, lane, title, 'queued', concurrency_group, command, timeout_secs, entrypoint, id, ?2 FROM lanes WHERE id = ?1
             RETURNING id",
            params![lane_id, now],
            |r| r.get(0),
        )?,
        LaneAction::Requeue | LaneAction::Recover => {
            if action == LaneAction::Recover && status != LaneStatus::Running {
                return Err(DbError::Conflict(format!(
                    "lane run {lane_id} is {status}, not running"
                )));
            }
            tx.execute(
                "UPDATE lanes SET status = 'queued', fencing_token = fencing_token + 1, lease_owner = NULL,
                   lease_expires_at = NULL, failure_kind = NULL, finished_at = NULL, message = ?2,
                   retry_count = retry_count + 1
                 WHERE id = ?1",
                params![
                    lane_id,
                    if action == LaneAction::Recover {
                        "recovered by hand"
                    } else {
                        "requeued by hand"
                    }
                ],
            )?;
            lane_id
        }
        LaneAction::Fail => {
            tx.execute(
                "UPDATE lanes SET status = 'failed', failure_kind = 'infrastructure', fencing_token = fencing_token + 1,
                   lease_owner = NULL, finished_at = ?2, message = 'failed by hand'
                 WHERE id = ?1",
                params![lane_id, now],
            )?;
            lane_id
        }
    })
}

impl Db {
    /// Reruns a whole suite: a new run (an attempt in the same suite, its
    /// `rerun_of` the run it repeats) of each of its lanes' newest runs, or
    /// with `failed_only` of those that failed. Lanes still queued or
    /// running are left as they are. Returns the new lane run ids; a suite
    /// with nothing to rerun is a conflict that says why.
    pub async fn rerun_suite(
        &self,
        suite_id: SuiteId,
        failed_only: bool,
    ) -> Result<Vec<LaneRunId>, DbError> {
        let now = self.now_text();
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let newest: Vec<(LaneRunId, LaneStatus)> = {
                let mut stmt = tx.prepare(&format!(
                    "SELECT l.id, l.status {CURRENT_LANES} ORDER BY l.id"
                ))?;
                stmt.query_map([suite_id], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?
            };
            if newest.is_empty() {
                return Err(DbError::Conflict(format!(
                    "suite {suite_id} has no lanes to rerun"
                )));
            }
            let chosen: Vec<(LaneRunId, LaneStatus)> = newest
                .iter()
                .filter(|(_, s)| match s {
                    LaneStatus::Failed => true,
                    LaneStatus::Passed | LaneStatus::Cancelled => !failed_only,
                    LaneStatus::Queued | LaneStatus::Running => false,
                })
                .copied()
                .collect();
            if chosen.is_empty() {
                let why = if newest
                    .iter()
                    .any(|(_, s)| matches!(s, LaneStatus::Queued | LaneStatus::Running))
                {
                    "its lanes are still queued or running"
                } else {
                    "none of its lanes failed"
                };
                return Err(DbError::Conflict(format!(
                    "nothing of suite {suite_id} to rerun: {why}"
                )));
            }
            let mut made = Vec::with_capacity(chosen.len());
            for (lane, status) in chosen {
                made.push(apply_action(&tx, lane, status, LaneAction::Rerun, &now)?);
            }
            refresh_suite(&tx, suite_id)?;
            tx.commit()?;
            Ok(made)
        })
        .await
    }
}

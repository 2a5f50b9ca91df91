//! Taking back lanes whose server is gone: the running lanes other servers
//! hold, and requeueing one under its fencing token.

use pikaci_core::RunId;
use rusqlite::params;

use super::{Db, DbError, LaneRunId, SuiteId};

/// A running lane held by another server (or an earlier run of this one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldLane {
    /// The lane run.
    pub lane_id: LaneRunId,
    /// The fencing token of its claim.
    pub fencing_token: i64,
    /// Who holds the lease, as stored.
    pub owner: String,
    /// The pikaci run it announced, if any.
    pub pikaci_run_id: Option<RunId>,
    /// How many times it was claimed.
    pub attempts: i64,
}

impl Db {
    /// Running lanes whose lease is held by anyone but `owner`.
    pub async fn lanes_held_by_others(&self, owner: &str) -> Result<Vec<HeldLane>, DbError> {
        let owner = owner.to_owned();
        self.call(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, fencing_token, lease_owner, pikaci_run_id, attempts FROM lanes
                 WHERE status = 'running' AND lease_owner IS NOT NULL AND lease_owner <> ?1
                 ORDER BY id",
            )?;
            let rows = stmt
                .query_map([owner], |r| {
                    Ok(HeldLane {
                        lane_id: r.get(0)?,
                        fencing_token: r.get(1)?,
                        owner: r.get(2)?,
                        pikaci_run_id: super::types::stored_run_id(r, 3)?,
                        attempts: r.get(4)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Puts a running lane back in the queue if it still has `fence` (a new
    /// fencing token shuts its old runner out); after `max_attempts` claims
    /// it fails as infrastructure instead. `false` when the fence is stale.
    pub async fn requeue_lane(
        &self,
        lane_id: LaneRunId,
        fence: i64,
        message: String,
        max_attempts: i64,
    ) -> Result<bool, DbError> {
        let now = self.now_text();
        self.call(move |c| {
            let n = c.execute(
                "UPDATE lanes SET
                   status = CASE WHEN attempts >= ?4 THEN 'failed' ELSE 'queued' END,
                   failure_kind = CASE WHEN attempts >= ?4 THEN 'infrastructure' ELSE NULL END,
                   finished_at = CASE WHEN attempts >= ?4 THEN ?5 ELSE NULL END,
                   message = CASE WHEN attempts >= ?4 THEN ?3 || '; it was tried too many times' ELSE ?3 END,
                   fencing_token = fencing_token + 1, lease_owner = NULL, lease_expires_at = NULL
                 WHERE id = ?1 AND fencing_token = ?2 AND status = 'running'",
                params![lane_id, fence, message, max_attempts, now],
            )?;
            Ok(n == 1)
        })
        .await
    }

    /// The suite a lane run belongs to.
    pub async fn lane_suite(&self, lane_id: LaneRunId) -> Result<SuiteId, DbError> {
        self.call(move |c| {
            Ok(
                c.query_row("SELECT suite_id FROM lanes WHERE id = ?1", [lane_id], |r| {
                    r.get(0)
                })?,
            )
        })
        .await
    }
}

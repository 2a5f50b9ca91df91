//! A branch merged or closed through the server: its state, its merge
//! commit, and its unfinished lanes cancelled, in one transaction.

use rusqlite::{TransactionBehavior, params};

use super::queue::refresh_suite;
use super::{BranchId, BranchState, Db, DbError, SuiteId};

/// How a branch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchEnd {
    /// Merged into the default branch as this merge commit.
    Merged {
        /// The merge commit.
        commit: String,
    },
    /// Closed: its ref deleted unmerged.
    Closed,
}

impl Db {
    /// Records how branch `id` ended (whatever state the poller gave it
    /// meanwhile: its ref is gone either way) and cancels its queued and
    /// running lanes, which lose their fence and stop. Returns how many
    /// lanes were cancelled.
    pub async fn end_branch(&self, id: BranchId, end: BranchEnd) -> Result<usize, DbError> {
        let now = self.now_text();
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (state, commit, why) = match &end {
                BranchEnd::Merged { commit } => (BranchState::Merged, Some(commit.clone()), "merged"),
                BranchEnd::Closed => (BranchState::Closed, None, "closed"),
            };
            let changed = tx.execute(
                "UPDATE branches SET state = ?2, merge_commit = ?3, updated_at = ?4 WHERE id = ?1",
                params![id, state, commit, now],
            )?;
            if changed == 0 {
                return Err(DbError::NotFound {
                    what: "branch",
                    name: id.to_string(),
                });
            }
            let suites: Vec<SuiteId> = {
                let mut stmt = tx.prepare(
                    "SELECT DISTINCT suite_id FROM lanes WHERE status IN ('queued', 'running')
                       AND suite_id IN (SELECT id FROM suites WHERE branch_id = ?1)",
                )?;
                stmt.query_map([id], |r| r.get(0))?.collect::<Result<_, _>>()?
            };
            let cancelled = tx.execute(
                "UPDATE lanes SET status = 'cancelled', failure_kind = 'cancelled', fencing_token = fencing_token + 1,
                   message = ?3, finished_at = ?2, lease_owner = NULL
                 WHERE status IN ('queued', 'running') AND suite_id IN (SELECT id FROM suites WHERE branch_id = ?1)",
                params![id, now, format!("cancelled: the branch was {why}")],
            )?;
            for suite in suites {
                refresh_suite(&tx, suite)?;
            }
            tx.commit()?;
            Ok(cancelled)
        })
        .await
    }
}

//! What the CI overview page lists: every branch with its latest suite (not
//! counting nightly runs, which are listed on their own).

use rusqlite::Row;

use super::forge::{LANE_COLUMNS, branch_from, explain, lane_from};
use super::schema::BRANCH_SUITE;
use super::waiting::Gate;
use super::{Branch, Db, DbError, Suite};

/// The most branches the overview lists (newest activity first).
const MAX_BRANCHES: usize = 500;

/// A branch and its latest suite (with its lanes), if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchOverview {
    /// The branch.
    pub branch: Branch,
    /// Its newest suite.
    pub latest: Option<Suite>,
    /// How many suites the branch has had: its newest suite's number among
    /// them (`#7`, counting from 1).
    pub runs: u64,
}

fn suite_from(r: &Row<'_>, at: usize) -> rusqlite::Result<Option<Suite>> {
    let Some(id) = r.get(at)? else {
        return Ok(None);
    };
    Ok(Some(Suite {
        id,
        head: r.get(at + 1)?,
        status: r.get(at + 2)?,
        message: r.get(at + 3)?,
        created_at: r.get(at + 4)?,
        lane_source: None,
        lanes: Vec::new(),
    }))
}

impl Db {
    /// Every branch (at most 500, the most recently active first: open ones
    /// before closed and merged ones) with its newest suite and that suite's lanes.
    pub async fn branch_overview(&self) -> Result<Vec<BranchOverview>, DbError> {
        let rules = self.queue_rules();
        self.call(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT b.id, b.name, b.head, b.state, b.updated_at, b.merge_commit,
                        s.id, s.head, s.status, s.message, s.created_at,
                        (SELECT COUNT(*) FROM suites WHERE branch_id = b.id AND {BRANCH_SUITE})
                 FROM branches b
                 LEFT JOIN suites s ON s.id = (SELECT MAX(id) FROM suites WHERE branch_id = b.id AND {BRANCH_SUITE})
                 ORDER BY b.state <> 'open', COALESCE(s.created_at, b.updated_at) DESC, b.id DESC
                 LIMIT ?1"
            ))?;
            let mut rows = stmt
                .query_map([MAX_BRANCHES as i64], |r| {
                    Ok(BranchOverview {
                        branch: branch_from(r)?,
                        latest: suite_from(r, 6)?,
                        runs: r.get::<_, i64>(11)?.unsigned_abs(),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut lanes = c.prepare_cached(&format!(
                "SELECT {LANE_COLUMNS} FROM lanes WHERE suite_id = ?1 ORDER BY id"
            ))?;
            let gate = Gate::read(c, rules)?;
            for suite in rows.iter_mut().filter_map(|r| r.latest.as_mut()) {
                suite.lanes = lanes
                    .query_map([suite.id], lane_from)?
                    .collect::<Result<Vec<_>, _>>()?;
                explain(&gate, &mut suite.lanes);
            }
            Ok(rows)
        })
        .await
    }
}

//! What upstream pika's views of branches and lanes need beyond our own rows
//! ([`LaneDetail`], [`SuiteDetail`], [`BranchMeta`]), and the lane actions
//! scoped to a branch or a nightly run ([`LaneScope`]) with upstream's rules:
//! a lane can be failed only while queued or running, requeued only while
//! queued, running or failed, and rerun only once it has finished.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, named_params, params};

use super::forge::{LANE_COLUMN_COUNT, LANE_COLUMNS, Lane, explain, lane_from};
use super::queue::{apply_action, refresh_suite};
use super::schema::BRANCH_SUITE;
use super::types::LaneScope;
use super::waiting::Gate;
use super::{BranchId, Db, DbError, LaneAction, LaneRunId, LaneStatus, SuiteId, SuiteStatus};

/// A lane run with everything its views show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneDetail {
    /// The row itself.
    pub run: Lane,
    /// What it is shown as (`None` for lanes queued before it was kept).
    pub entrypoint: Option<String>,
    /// What it runs, as stored JSON.
    pub command: Option<String>,
    /// How many times it was put back in the queue (by hand or after its
    /// runner stopped answering).
    pub retry_count: i64,
    /// The lane run it repeats (a rerun).
    pub rerun_of: Option<LaneRunId>,
    /// When its lease ends, while it runs.
    pub lease_expires_at: Option<String>,
    /// When its runner last renewed its lease (or claimed it).
    pub last_heartbeat_at: Option<String>,
}

/// A branch's suite with its lanes in detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteDetail {
    /// Its id.
    pub id: SuiteId,
    /// The head commit.
    pub head: String,
    /// Summary status.
    pub status: SuiteStatus,
    /// Why it failed, for a suite that could not start (bad manifest).
    pub message: Option<String>,
    /// When it was queued.
    pub created_at: String,
    /// Its lane runs, oldest first.
    pub lanes: Vec<LaneDetail>,
}

/// What a branch's head says about it: the subject and author of its head
/// commit and its merge base with the default branch, as last seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BranchMeta {
    /// The head commit's subject.
    pub title: Option<String>,
    /// The head commit's author (the name only).
    pub author: Option<String>,
    /// The merge base with the default branch.
    pub merge_base: Option<String>,
}

impl LaneScope {
    /// The SQL condition (on a `suites` row aliased `s`) that a suite is in
    /// this scope, with the scope's id as the named parameter `:scope`.
    fn suite_condition(self) -> String {
        match self {
            Self::Branch(_) => format!("s.branch_id = :scope AND s.{BRANCH_SUITE}"),
            Self::Nightly(_) => {
                "s.id = (SELECT suite_id FROM nightly_runs WHERE id = :scope)".into()
            }
        }
    }

    fn id(self) -> i64 {
        match self {
            Self::Branch(b) => b.get(),
            Self::Nightly(n) => n.get(),
        }
    }
}

/// The columns of a [`LaneDetail`], on `lanes l`.
fn detail_columns() -> String {
    let base = LANE_COLUMNS
        .split(", ")
        .map(|c| format!("l.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{base}, l.entrypoint, l.command, l.retry_count, l.rerun_of, l.lease_expires_at, l.last_heartbeat_at"
    )
}

fn detail_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<LaneDetail> {
    let at = LANE_COLUMN_COUNT;
    Ok(LaneDetail {
        run: lane_from(r)?,
        entrypoint: r.get(at)?,
        command: r.get(at + 1)?,
        retry_count: r.get(at + 2)?,
        rerun_of: r.get(at + 3)?,
        lease_expires_at: r.get(at + 4)?,
        last_heartbeat_at: r.get(at + 5)?,
    })
}

/// A suite's lane runs in detail, oldest first, each queued one with why
/// it waits.
pub(super) fn lane_details(
    c: &Connection,
    suite: SuiteId,
    gate: &Gate,
) -> rusqlite::Result<Vec<LaneDetail>> {
    let mut lanes = c
        .prepare_cached(&format!(
            "SELECT {} FROM lanes l WHERE l.suite_id = ?1 ORDER BY l.id",
            detail_columns()
        ))?
        .query_map([suite], detail_from)?
        .collect::<Result<Vec<_>, _>>()?;
    explain(gate, lanes.iter_mut().map(|l| &mut l.run));
    Ok(lanes)
}

/// Whether `action` may be applied to a lane in `status` (upstream's rules).
fn allowed(action: LaneAction, status: LaneStatus) -> Result<(), String> {
    use LaneStatus::{Failed, Queued, Running};
    let (ok, rule) = match action {
        LaneAction::Fail => (
            matches!(status, Queued | Running),
            "only a queued or running lane can be failed",
        ),
        LaneAction::Requeue => (
            matches!(status, Queued | Running | Failed),
            "only a queued, running or failed lane can be requeued",
        ),
        LaneAction::Rerun => (
            !matches!(status, Queued | Running),
            "a lane is rerun once it has finished",
        ),
        LaneAction::Recover => (status == Running, "only a running lane can be recovered"),
    };
    if ok { Ok(()) } else { Err(rule.to_owned()) }
}

impl Db {
    /// What the branch's head said about it.
    pub async fn branch_meta(&self, branch: BranchId) -> Result<BranchMeta, DbError> {
        self.call(move |c| {
            Ok(c.query_row(
                "SELECT title, merge_base, head_author FROM branches WHERE id = ?1",
                [branch],
                |r| {
                    Ok(BranchMeta {
                        title: r.get(0)?,
                        merge_base: r.get(1)?,
                        author: r.get(2)?,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
        })
        .await
    }

    /// Records what the branch's head says about it.
    pub async fn set_branch_meta(&self, branch: BranchId, meta: BranchMeta) -> Result<(), DbError> {
        self.call(move |c| {
            c.execute(
                "UPDATE branches SET title = ?2, merge_base = ?3, head_author = ?4 WHERE id = ?1",
                params![branch, meta.title, meta.merge_base, meta.author],
            )?;
            Ok(())
        })
        .await
    }

    /// A branch's own suites (not nightly runs), newest first, at most
    /// `limit`, each with its lanes in detail.
    pub async fn suite_details(
        &self,
        branch: BranchId,
        limit: u32,
    ) -> Result<Vec<SuiteDetail>, DbError> {
        let rules = self.queue_rules();
        self.call(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT id, head, status, message, created_at FROM suites
                 WHERE branch_id = ?1 AND {BRANCH_SUITE} ORDER BY id DESC LIMIT ?2"
            ))?;
            let mut suites = stmt
                .query_map(params![branch, limit], |r| {
                    Ok(SuiteDetail {
                        id: r.get(0)?,
                        head: r.get(1)?,
                        status: r.get(2)?,
                        message: r.get(3)?,
                        created_at: r.get(4)?,
                        lanes: Vec::new(),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let gate = Gate::read(c, rules)?;
            for s in &mut suites {
                s.lanes = lane_details(c, s.id, &gate)?;
            }
            Ok(suites)
        })
        .await
    }

    /// One lane run in detail.
    pub async fn lane_detail(&self, lane: LaneRunId) -> Result<Option<LaneDetail>, DbError> {
        let rules = self.queue_rules();
        self.call(move |c| {
            let mut detail = c
                .query_row(
                    &format!("SELECT {} FROM lanes l WHERE l.id = ?1", detail_columns()),
                    [lane],
                    detail_from,
                )
                .optional()?;
            explain(&Gate::read(c, rules)?, detail.as_mut().map(|d| &mut d.run));
            Ok(detail)
        })
        .await
    }

    /// Applies `action` to a lane run that must be in `scope` (else
    /// [`DbError::NotFound`]) and in a status the action allows (else
    /// [`DbError::Conflict`]); refreshes its suite. Returns the lane run
    /// changed (or the new one a rerun made) and its status now.
    pub async fn lane_action_in(
        &self,
        scope: LaneScope,
        lane: LaneRunId,
        action: LaneAction,
    ) -> Result<(LaneRunId, LaneStatus), DbError> {
        let now = self.now_text();
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(LaneStatus, SuiteId)> = tx
                .query_row(
                    &format!(
                        "SELECT l.status, l.suite_id FROM lanes l JOIN suites s ON s.id = l.suite_id
                         WHERE l.id = :lane AND {}",
                        scope.suite_condition()
                    ),
                    named_params! {":lane": lane, ":scope": scope.id()},
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((status, suite)) = row else {
                return Err(DbError::NotFound {
                    what: "lane run",
                    name: format!("{lane} of {scope}"),
                });
            };
            allowed(action, status).map_err(|rule| {
                DbError::Conflict(format!("lane run {lane} is {status}: {rule}"))
            })?;
            let changed = apply_action(&tx, lane, status, action, &now)?;
            refresh_suite(&tx, suite)?;
            let now_status: LaneStatus =
                tx.query_row("SELECT status FROM lanes WHERE id = ?1", [changed], |r| {
                    r.get(0)
                })?;
            tx.commit()?;
            Ok((changed, now_status))
        })
        .await
    }

    /// Puts every queued, running or failed lane of a suite in `scope` back
    /// in the queue (runs a rerun replaced stay as they are); `suite` names
    /// the suite for a branch scope (a nightly run is one suite). Returns how
    /// many lanes were requeued; [`DbError::NotFound`] when the suite is not
    /// in the scope.
    pub async fn recover_in(
        &self,
        scope: LaneScope,
        suite: Option<SuiteId>,
    ) -> Result<usize, DbError> {
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let found: Option<SuiteId> = tx
                .query_row(
                    &format!(
                        "SELECT s.id FROM suites s WHERE (:suite IS NULL OR s.id = :suite) AND {}",
                        scope.suite_condition()
                    ),
                    named_params! {":suite": suite, ":scope": scope.id()},
                    |r| r.get(0),
                )
                .optional()?;
            // A branch has many suites: one must be named.
            let named = suite.is_some() || matches!(scope, LaneScope::Nightly(_));
            let Some(suite_id) = found.filter(|_| named) else {
                return Err(DbError::NotFound {
                    what: "run",
                    name: match suite {
                        Some(s) => format!("{s} of {scope}"),
                        None => scope.to_string(),
                    },
                });
            };
            let n = tx.execute(
                "UPDATE lanes SET status = 'queued', fencing_token = fencing_token + 1, lease_owner = NULL,
                   lease_expires_at = NULL, failure_kind = NULL, finished_at = NULL,
                   message = 'recovered by hand', retry_count = retry_count + 1
                 WHERE suite_id = ?1 AND status IN ('queued', 'running', 'failed')
                   AND NOT EXISTS (SELECT 1 FROM lanes n WHERE n.suite_id = lanes.suite_id AND n.lane = lanes.lane AND n.id > lanes.id)",
                [suite_id],
            )?;
            refresh_suite(&tx, suite_id)?;
            tx.commit()?;
            Ok(n)
        })
        .await
    }
}

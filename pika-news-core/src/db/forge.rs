//! Branches, their suites (one per head) and lanes (one run of one lane definition).

use pikaci_core::{FailureKind, RunId};
use rusqlite::{OptionalExtension, Row, params};

use super::schema::BRANCH_SUITE;
use super::types::{StoredFailureKind, stored_run_id};
use super::waiting::{Gate, QueueReason, QueueRules};
use super::{BranchId, BranchState, Db, DbError, LaneRunId, LaneStatus, SuiteId, SuiteStatus};
use crate::lanes::lane_source::LaneSource;

/// A branch of the forge repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    /// Its id in URLs.
    pub id: BranchId,
    /// Its ref name, e.g. `feature/x`.
    pub name: String,
    /// The head commit last seen.
    pub head: Option<String>,
    /// `open`, `closed` once its ref is gone, or `merged` by the server.
    pub state: BranchState,
    /// When it last changed.
    pub updated_at: String,
    /// The merge commit, once merged through the server.
    pub merge_commit: Option<String>,
}

/// The CI suite of one branch head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suite {
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
    /// Where its lanes came from (none for a head with no lanes, and for
    /// suites older than this record).
    pub lane_source: Option<LaneSource>,
    /// Its lanes.
    pub lanes: Vec<Lane>,
}

/// One run of one lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    /// The lane run id.
    pub id: LaneRunId,
    /// The suite it belongs to.
    pub suite_id: SuiteId,
    /// The lane definition's id.
    pub lane: String,
    /// Its title.
    pub title: String,
    /// Its status.
    pub status: LaneStatus,
    /// Why it failed.
    pub failure_kind: Option<FailureKind>,
    /// The pikaci run it started, once `run_started` arrived.
    pub pikaci_run_id: Option<RunId>,
    /// How many times it was claimed.
    pub attempts: i64,
    /// A one-line summary.
    pub message: Option<String>,
    /// When it was queued.
    pub created_at: String,
    /// When it started.
    pub started_at: Option<String>,
    /// When it finished.
    pub finished_at: Option<String>,
    /// Its concurrency group.
    pub concurrency_group: Option<String>,
    /// While it is queued: why it is not running yet, by the rule the
    /// claim follows (`None` once claimed, and where a read did not ask).
    pub queue_reason: Option<QueueReason>,
}

/// What is needed to queue a lane.
#[derive(Debug, Clone)]
pub struct NewLane {
    /// The suite.
    pub suite_id: SuiteId,
    /// The lane definition's id.
    pub lane: String,
    /// Its title.
    pub title: String,
    /// Its concurrency group.
    pub concurrency_group: Option<String>,
    /// What it runs, as stored JSON (`None` for a lane that only reports, e.g. a manifest error).
    pub command: Option<String>,
    /// Its own timeout, if any.
    pub timeout_secs: Option<u64>,
}

pub(super) const LANE_COLUMNS: &str = "id, suite_id, lane, title, status, failure_kind, pikaci_run_id, attempts, message, created_at, started_at, finished_at, concurrency_group";

/// How many columns [`LANE_COLUMNS`] has.
pub(super) const LANE_COLUMN_COUNT: usize = 13;

pub(super) fn lane_from(r: &Row<'_>) -> rusqlite::Result<Lane> {
    Ok(Lane {
        id: r.get(0)?,
        suite_id: r.get(1)?,
        lane: r.get(2)?,
        title: r.get(3)?,
        status: r.get(4)?,
        failure_kind: r.get::<_, Option<StoredFailureKind>>(5)?.map(|k| k.0),
        pikaci_run_id: stored_run_id(r, 6)?,
        attempts: r.get(7)?,
        message: r.get(8)?,
        created_at: r.get(9)?,
        started_at: r.get(10)?,
        finished_at: r.get(11)?,
        concurrency_group: r.get(12)?,
        // Set by `explain`, which knows what runs now.
        queue_reason: None,
    })
}

/// Inserts a queued lane (also inside a caller's transaction).
pub(super) fn insert_lane_row(
    c: &rusqlite::Connection,
    lane: &NewLane,
    entrypoint: Option<&str>,
    now: &str,
) -> rusqlite::Result<LaneRunId> {
    c.query_row(
        "INSERT INTO lanes (suite_id, lane, title, status, concurrency_group, command, timeout_secs, entrypoint, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
        params![
            lane.suite_id,
            lane.lane,
            lane.title,
            LaneStatus::Queued,
            lane.concurrency_group,
            lane.command,
            lane.timeout_secs.map(|t| t as i64),
            entrypoint,
            now
        ],
        |r| r.get(0),
    )
}

/// The columns [`suite_from`] reads, in its order.
pub(super) const SUITE_COLUMNS: &str = "id, head, status, message, created_at, lane_source";

/// A suite row (of [`SUITE_COLUMNS`]), its lanes not read yet.
pub(super) fn suite_from(r: &Row<'_>) -> rusqlite::Result<Suite> {
    Ok(Suite {
        id: r.get(0)?,
        head: r.get(1)?,
        status: r.get(2)?,
        message: r.get(3)?,
        created_at: r.get(4)?,
        // A name this build does not know reads as unknown.
        lane_source: r.get::<_, Option<String>>(5)?.and_then(|s| s.parse().ok()),
        lanes: Vec::new(),
    })
}

/// Sets the reason of each queued lane of `lanes` (the others have none),
/// by the rule of `gate`, the claim's.
pub(super) fn explain<'a>(gate: &Gate, lanes: impl IntoIterator<Item = &'a mut Lane>) {
    for lane in lanes {
        lane.queue_reason = (lane.status == LaneStatus::Queued)
            .then(|| gate.reason(lane.concurrency_group.as_deref()));
    }
}

/// Reads each suite's lanes, in the order they were made, each queued one
/// with why it waits.
pub(super) fn with_lanes(
    c: &rusqlite::Connection,
    suites: &mut [Suite],
    rules: QueueRules,
) -> rusqlite::Result<()> {
    let mut lanes = c.prepare(&format!(
        "SELECT {LANE_COLUMNS} FROM lanes WHERE suite_id = ?1 ORDER BY id"
    ))?;
    let gate = Gate::read(c, rules)?;
    for s in suites {
        s.lanes = lanes
            .query_map([s.id], lane_from)?
            .collect::<Result<Vec<_>, _>>()?;
        explain(&gate, &mut s.lanes);
    }
    Ok(())
}

pub(super) fn branch_from(r: &Row<'_>) -> rusqlite::Result<Branch> {
    Ok(Branch {
        id: r.get(0)?,
        name: r.get(1)?,
        head: r.get(2)?,
        state: r.get(3)?,
        updated_at: r.get(4)?,
        merge_commit: r.get(5)?,
    })
}

impl Db {
    /// Records a branch head (creating the branch); returns the branch id.
    pub async fn upsert_branch(&self, name: &str, head: &str) -> Result<BranchId, DbError> {
        let (name, head, now) = (name.to_owned(), head.to_owned(), self.now_text());
        self.call(move |c| {
            c.execute(
                "INSERT INTO branches (name, head, state, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (name) DO UPDATE SET head = excluded.head, state = excluded.state, updated_at = excluded.updated_at, merge_commit = NULL",
                params![name, head, BranchState::Open, now],
            )?;
            Ok(c.query_row("SELECT id FROM branches WHERE name = ?1", [&name], |r| r.get(0))?)
        })
        .await
    }

    /// A branch by id.
    pub async fn branch(&self, id: BranchId) -> Result<Option<Branch>, DbError> {
        self.call(move |c| {
            Ok(c.query_row(
                "SELECT id, name, head, state, updated_at, merge_commit FROM branches WHERE id = ?1",
                [id],
                branch_from,
            )
            .optional()?)
        })
        .await
    }

    /// A branch by name.
    pub async fn branch_by_name(&self, name: &str) -> Result<Option<Branch>, DbError> {
        let name = name.to_owned();
        self.call(move |c| {
            Ok(c.query_row(
                "SELECT id, name, head, state, updated_at, merge_commit FROM branches WHERE name = ?1",
                [name],
                branch_from,
            )
            .optional()?)
        })
        .await
    }

    /// Queues a suite for a branch head.
    pub async fn insert_suite(
        &self,
        branch_id: BranchId,
        head: &str,
        status: SuiteStatus,
        message: Option<&str>,
    ) -> Result<SuiteId, DbError> {
        self.insert_suite_from(branch_id, head, status, message, None)
            .await
    }

    /// [`Self::insert_suite`], recording where its lanes came from.
    pub async fn insert_suite_from(
        &self,
        branch_id: BranchId,
        head: &str,
        status: SuiteStatus,
        message: Option<&str>,
        source: Option<LaneSource>,
    ) -> Result<SuiteId, DbError> {
        let (head, message, now) = (head.to_owned(), message.map(str::to_owned), self.now_text());
        let source = source.map(LaneSource::as_str);
        self.call(move |c| {
            Ok(c.query_row(
                "INSERT INTO suites (branch_id, head, status, message, created_at, lane_source) VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                params![branch_id, head, status, message, now, source],
                |r| r.get(0),
            )?)
        })
        .await
    }

    /// Queues a lane.
    pub async fn insert_lane(&self, lane: NewLane) -> Result<LaneRunId, DbError> {
        self.insert_lane_shown(lane, None).await
    }

    /// Queues a lane shown as `entrypoint` (the manifest's, or its command line).
    pub async fn insert_lane_shown(
        &self,
        lane: NewLane,
        entrypoint: Option<String>,
    ) -> Result<LaneRunId, DbError> {
        let now = self.now_text();
        self.call(move |c| Ok(insert_lane_row(c, &lane, entrypoint.as_deref(), &now)?))
            .await
    }

    /// Records the pikaci run a lane started.
    pub async fn set_lane_pikaci_run(
        &self,
        lane_id: LaneRunId,
        run_id: &str,
    ) -> Result<(), DbError> {
        let run_id = run_id.to_owned();
        self.call(move |c| {
            c.execute(
                "UPDATE lanes SET pikaci_run_id = ?2 WHERE id = ?1",
                params![lane_id, run_id],
            )?;
            Ok(())
        })
        .await
    }

    /// Sets a lane's status (and failure kind and message).
    pub async fn set_lane_status(
        &self,
        lane_id: LaneRunId,
        status: LaneStatus,
        failure_kind: Option<FailureKind>,
        message: Option<&str>,
    ) -> Result<(), DbError> {
        let (failure_kind, message) = (
            failure_kind.map(StoredFailureKind),
            message.map(str::to_owned),
        );
        let now = self.now_text();
        self.call(move |c| {
            c.execute(
                "UPDATE lanes SET status = ?2, failure_kind = ?3, message = ?4,
                   started_at = CASE WHEN ?2 = 'running' THEN ?5 ELSE started_at END,
                   finished_at = CASE WHEN ?2 IN ('passed', 'failed', 'cancelled') THEN ?5 ELSE NULL END
                 WHERE id = ?1",
                params![lane_id, status, failure_kind, message, now],
            )?;
            Ok(())
        })
        .await
    }

    /// A branch's suites (not its nightly runs), newest first, each with its
    /// lanes: the newest 50 (the branch view; `suites_page` reaches them all).
    pub async fn suites(&self, branch_id: BranchId) -> Result<Vec<Suite>, DbError> {
        Ok(self.suites_page(branch_id, None, 50).await?.items)
    }

    /// The lane run a branch's logs request names: `lane_run_id` if given
    /// (it must belong to the branch), else the newest run of `lane`, else
    /// upstream's default: the newest suite's first failed lane (a run that a
    /// rerun replaced does not count), else the first lane that ran, else the
    /// newest suite's first lane. Nightly runs are not the branch's.
    pub async fn lane_for_branch(
        &self,
        branch_id: BranchId,
        lane: Option<String>,
        lane_run_id: Option<LaneRunId>,
    ) -> Result<Option<Lane>, DbError> {
        let rules = self.queue_rules();
        self.call(move |c| {
            let base = format!(
                "SELECT {} FROM lanes l JOIN suites s ON s.id = l.suite_id WHERE s.branch_id = ?1 AND s.{BRANCH_SUITE}",
                LANE_COLUMNS
                    .split(", ")
                    .map(|col| format!("l.{col}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let newest_first = "ORDER BY s.id DESC, l.id ASC LIMIT 1";
            let mut found = match (lane_run_id, lane) {
                (Some(id), _) => c
                    .query_row(&format!("{base} AND l.id = ?2"), params![branch_id, id], lane_from)
                    .optional()?,
                (None, Some(name)) => c
                    .query_row(
                        &format!("{base} AND l.lane = ?2 ORDER BY l.id DESC LIMIT 1"),
                        params![branch_id, name],
                        lane_from,
                    )
                    .optional()?,
                (None, None) => {
                    let mut found = None;
                    for rule in [
                        "AND l.status = 'failed' AND NOT EXISTS (SELECT 1 FROM lanes n WHERE n.suite_id = l.suite_id AND n.lane = l.lane AND n.id > l.id)",
                        "AND l.started_at IS NOT NULL",
                        "",
                    ] {
                        found = c
                            .query_row(&format!("{base} {rule} {newest_first}"), [branch_id], lane_from)
                            .optional()?;
                        if found.is_some() {
                            break;
                        }
                    }
                    found
                }
            };
            explain(&Gate::read(c, rules)?, &mut found);
            Ok(found)
        })
        .await
    }

    /// A lane run's status, if it exists.
    pub async fn lane_status(&self, lane_id: LaneRunId) -> Result<Option<LaneStatus>, DbError> {
        self.call(move |c| {
            Ok(
                c.query_row("SELECT status FROM lanes WHERE id = ?1", [lane_id], |r| {
                    r.get(0)
                })
                .optional()?,
            )
        })
        .await
    }

    /// Whether a lane run exists.
    pub async fn lane_exists(&self, lane_id: LaneRunId) -> Result<bool, DbError> {
        self.call(move |c| {
            Ok(
                c.query_row("SELECT 1 FROM lanes WHERE id = ?1", [lane_id], |_| Ok(()))
                    .optional()?
                    .is_some(),
            )
        })
        .await
    }
}

//! Nightly runs: each is a suite of the default branch's head, made on the
//! manifest's schedule, with a row of its own in `nightly_runs` (its id, the
//! slot it was scheduled for, the ref it ran). Its lanes are ordinary lanes,
//! claimed and run like a branch's; the branch's own views leave nightly
//! suites out ([`BRANCH_SUITE`](super::schema::BRANCH_SUITE)).

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::compat::{LaneDetail, lane_details};
use super::forge::insert_lane_row;
use super::waiting::Gate;
use super::{BranchId, Db, DbError, NewLane, NightlyRunId, SuiteId, SuiteStatus};
use crate::lanes::lane_source::LaneSource;

/// What is needed to make a nightly run.
#[derive(Debug, Clone)]
pub struct NewNightly {
    /// The default branch (its suites hold nightly runs too).
    pub branch_id: BranchId,
    /// The commit it runs.
    pub head: String,
    /// The ref it was read from, e.g. `refs/heads/master`.
    pub source_ref: String,
    /// The slot it is for (RFC 3339, UTC); one nightly run per slot.
    pub scheduled_for: String,
    /// Where its lanes came from (stored with its suite, as a branch
    /// suite's are).
    pub lane_source: Option<LaneSource>,
    /// Its lanes.
    pub lanes: Vec<NewNightlyLane>,
}

/// One lane of a new nightly run.
#[derive(Debug, Clone)]
pub struct NewNightlyLane {
    /// The lane definition's id.
    pub lane: String,
    /// Its title.
    pub title: String,
    /// What it is shown as.
    pub entrypoint: String,
    /// Its concurrency group.
    pub concurrency_group: Option<String>,
    /// What it runs, as stored JSON.
    pub command: Option<String>,
    /// Its own timeout, if any.
    pub timeout_secs: Option<u64>,
}

/// A nightly run with its lanes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NightlyRun {
    /// Its id.
    pub id: NightlyRunId,
    /// The suite holding its lanes.
    pub suite_id: SuiteId,
    /// The slot it was scheduled for.
    pub scheduled_for: String,
    /// The ref it ran, e.g. `refs/heads/master`.
    pub source_ref: String,
    /// The commit it ran.
    pub head: String,
    /// The suite's summary status.
    pub status: SuiteStatus,
    /// The nightly run it repeats (a rerun).
    pub rerun_of: Option<NightlyRunId>,
    /// A one-line summary, if any.
    pub summary: Option<String>,
    /// When it was made.
    pub created_at: String,
    /// Where its lanes came from (none for runs older than this record).
    pub lane_source: Option<LaneSource>,
    /// Its lane runs, oldest first.
    pub lanes: Vec<LaneDetail>,
}

const NIGHTLY_COLUMNS: &str = "n.id, n.suite_id, n.scheduled_for, n.source_ref, s.head, s.status, n.rerun_of, n.summary, n.created_at, s.lane_source";

fn nightly_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<NightlyRun> {
    Ok(NightlyRun {
        id: r.get(0)?,
        suite_id: r.get(1)?,
        scheduled_for: r.get(2)?,
        source_ref: r.get(3)?,
        head: r.get(4)?,
        status: r.get(5)?,
        rerun_of: r.get(6)?,
        summary: r.get(7)?,
        created_at: r.get(8)?,
        // A name this version does not know reads as none, as a suite's does.
        lane_source: r.get::<_, Option<String>>(9)?.and_then(|s| s.parse().ok()),
        lanes: Vec::new(),
    })
}

impl Db {
    /// Makes the nightly run of a slot, with its suite and lanes, in one
    /// transaction; `None` when that slot already has one.
    pub async fn create_nightly(&self, n: NewNightly) -> Result<Option<NightlyRunId>, DbError> {
        let now = self.now_text();
        self.call(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let taken = tx
                .query_row(
                    "SELECT 1 FROM nightly_runs WHERE scheduled_for = ?1 AND rerun_of IS NULL",
                    [&n.scheduled_for],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if taken {
                return Ok(None);
            }
            let status = if n.lanes.is_empty() {
                SuiteStatus::Passed
            } else {
                SuiteStatus::Running
            };
            let suite: SuiteId = tx.query_row(
                "INSERT INTO suites (branch_id, head, status, message, created_at, lane_source) VALUES (?1, ?2, ?3, NULL, ?4, ?5) RETURNING id",
                params![n.branch_id, n.head, status, now, n.lane_source.map(LaneSource::as_str)],
                |r| r.get(0),
            )?;
            let id: NightlyRunId = tx.query_row(
                "INSERT INTO nightly_runs (suite_id, scheduled_for, source_ref, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING id",
                params![suite, n.scheduled_for, n.source_ref, now],
                |r| r.get(0),
            )?;
            for l in n.lanes {
                let lane = NewLane {
                    suite_id: suite,
                    lane: l.lane,
                    title: l.title,
                    concurrency_group: l.concurrency_group,
                    command: l.command,
                    timeout_secs: l.timeout_secs,
                };
                insert_lane_row(&tx, &lane, Some(&l.entrypoint), &now)?;
            }
            tx.commit()?;
            Ok(Some(id))
        })
        .await
    }

    /// A nightly run with its lanes.
    pub async fn nightly(&self, id: NightlyRunId) -> Result<Option<NightlyRun>, DbError> {
        let rules = self.queue_rules();
        self.call(move |c| {
            let run = c
                .query_row(
                    &format!("SELECT {NIGHTLY_COLUMNS} FROM nightly_runs n JOIN suites s ON s.id = n.suite_id WHERE n.id = ?1"),
                    [id],
                    nightly_from,
                )
                .optional()?;
            run.map(|mut run| {
                run.lanes = lane_details(c, run.suite_id, &Gate::read(c, rules)?)?;
                Ok(run)
            })
            .transpose()
        })
        .await
    }

    /// The newest nightly runs (at most `limit`), each with its lanes.
    pub async fn nightlies(&self, limit: u32) -> Result<Vec<NightlyRun>, DbError> {
        let rules = self.queue_rules();
        self.call(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {NIGHTLY_COLUMNS} FROM nightly_runs n JOIN suites s ON s.id = n.suite_id
                 ORDER BY n.scheduled_for DESC, n.id DESC LIMIT ?1"
            ))?;
            let mut runs = stmt
                .query_map([limit], nightly_from)?
                .collect::<Result<Vec<_>, _>>()?;
            let gate = Gate::read(c, rules)?;
            for run in &mut runs {
                run.lanes = lane_details(c, run.suite_id, &gate)?;
            }
            Ok(runs)
        })
        .await
    }
}

//! The HTTP shapes: every JSON body the API answers with is a type here (or a
//! pikaci record), made from database rows and store answers, never a row
//! serialized as is. Their OpenAPI schemas are derived from these types.
//!
//! Field order is the order of the keys on the wire; optional values are
//! `null` unless a field says it is omitted when empty. In the schemas every
//! key that is always sent is `required` and no other key is allowed
//! (`deny_unknown_fields` has no effect on serializing: it only closes the
//! schema).

use pikaci_core::{FailureKind, JobId, PreparedOutputs, RunId, RunLogsMetadata, RunRecord};
use serde::Serialize;
use utoipa::ToSchema;

pub(crate) use super::compat::dto::{
    BranchRerun, BranchSummary, CiLane, CiRun, LaneMutation, Me, NightlyDetail, NightlyList,
    NightlyRerun, RecoverDone, WakeCi,
};
use super::lane_view::LaneView;
pub(crate) use super::queue_reason::LaneQueueReason;
use crate::db::{self, BranchId, BranchState, LaneRunId, LaneStatus, SuiteId, SuiteStatus};
use crate::lanes::lane_source::LaneSource;

pub(crate) use crate::error::ErrorBody;

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Health {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// A branch of the forge repository (`GET .../branch/resolve`): our keys,
/// then the ones upstream's `BranchResolveResponse` has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Branch {
    /// Its id in URLs.
    pub id: BranchId,
    /// Its ref name, e.g. `feature/x`.
    pub name: String,
    /// The head commit last seen.
    #[schema(required = true)]
    pub head: Option<String>,
    /// `open`, or `closed` once its ref is gone.
    pub state: BranchState,
    /// When it last changed (RFC 3339, UTC).
    pub updated_at: String,
    /// Its id again, under upstream's name.
    pub branch_id: BranchId,
    /// The repository, e.g. `sledtools/pika`.
    pub repo: String,
    /// Its name again, under upstream's name.
    pub branch_name: String,
    /// Its state again, under upstream's name.
    pub branch_state: BranchState,
}

impl Branch {
    /// A branch row of the repository `repo`.
    pub(crate) fn new(b: db::Branch, repo: &str) -> Self {
        Self {
            id: b.id,
            branch_id: b.id,
            branch_name: b.name.clone(),
            name: b.name,
            head: b.head,
            state: b.state,
            branch_state: b.state,
            updated_at: b.updated_at,
            repo: repo.to_owned(),
        }
    }
}

/// A branch with its suites (newest first, at most 50), each with its lanes;
/// and the same in upstream's view (`branch`, and `ci_runs`: the newest 8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BranchDetail {
    /// Its id in URLs.
    pub id: BranchId,
    /// Its ref name.
    pub name: String,
    /// The head commit last seen.
    #[schema(required = true)]
    pub head: Option<String>,
    /// `open`, `closed` or `merged`.
    pub state: BranchState,
    /// When it last changed.
    pub updated_at: String,
    /// Its suites, newest first.
    pub suites: Vec<Suite>,
    /// The branch in upstream's view.
    pub branch: BranchSummary,
    /// Its newest suites in upstream's view, newest first.
    pub ci_runs: Vec<CiRun>,
}

impl BranchDetail {
    /// A branch row and its suites, with upstream's view of them.
    pub(crate) fn new(
        branch: db::Branch,
        suites: Vec<db::Suite>,
        summary: BranchSummary,
        ci_runs: Vec<CiRun>,
    ) -> Self {
        Self {
            id: branch.id,
            name: branch.name,
            head: branch.head,
            state: branch.state,
            updated_at: branch.updated_at,
            suites: suites.into_iter().map(Suite::from).collect(),
            branch: summary,
            ci_runs,
        }
    }
}

/// The CI suite of one branch head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Suite {
    /// Its id.
    pub id: SuiteId,
    /// The head commit.
    pub head: String,
    /// Summary status, folded from its lanes.
    pub status: SuiteStatus,
    /// Why it failed, for a suite that could not start (bad manifest).
    #[schema(required = true)]
    pub message: Option<String>,
    /// When it was queued.
    pub created_at: String,
    /// Where its lanes came from: `head_manifest` (the head's
    /// `ci/forge-lanes.toml`), `head_pipeline` (the CI targets of the head's
    /// `pikaci.toml`) or `server_manifest` (the server's `lanes_manifest`);
    /// absent when no source defined a lane.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "head_pipeline")]
    pub lane_source: Option<LaneSource>,
    /// Its lane runs, oldest first.
    pub lanes: Vec<LaneRun>,
}

impl From<db::Suite> for Suite {
    fn from(s: db::Suite) -> Self {
        Self {
            id: s.id,
            head: s.head,
            status: s.status,
            message: s.message,
            created_at: s.created_at,
            lane_source: s.lane_source,
            lanes: s
                .lanes
                .into_iter()
                .map(|l| LaneRun::from(LaneView::from(l)))
                .collect(),
        }
    }
}

/// One run of one lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LaneRun {
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
    #[schema(required = true)]
    pub failure_kind: Option<FailureKind>,
    /// The pikaci run it started, once `run_started` arrived.
    #[schema(required = true)]
    pub pikaci_run_id: Option<String>,
    /// How many times it was claimed.
    pub attempts: i64,
    /// A one-line summary.
    #[schema(required = true)]
    pub message: Option<String>,
    /// When it was queued.
    pub created_at: String,
    /// When it started.
    #[schema(required = true)]
    pub started_at: Option<String>,
    /// When it finished.
    #[schema(required = true)]
    pub finished_at: Option<String>,
    /// While it is queued: why it is not running yet (`null` otherwise).
    #[schema(required = true)]
    pub queue_reason: Option<LaneQueueReason>,
}

impl From<LaneView> for LaneRun {
    fn from(view: LaneView) -> Self {
        let queue_reason = view.queue_reason().map(LaneQueueReason::from);
        let l = view.into_row();
        Self {
            id: l.id,
            suite_id: l.suite_id,
            lane: l.lane,
            title: l.title,
            status: l.status,
            failure_kind: l.failure_kind,
            pikaci_run_id: l.pikaci_run_id.map(|r| r.as_str().to_owned()),
            attempts: l.attempts,
            message: l.message,
            created_at: l.created_at,
            started_at: l.started_at,
            finished_at: l.finished_at,
            queue_reason,
        }
    }
}

/// `ForgeBranchLogsResponse`: a branch's lane run with its pikaci run and log facts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BranchLogsResponse {
    /// The branch.
    pub branch_id: BranchId,
    /// Its name.
    pub branch_name: String,
    /// The suite the lane run belongs to (upstream's CI run id).
    pub run_id: SuiteId,
    /// The lane run, in upstream's view (`lane_id`, `entrypoint`,
    /// `retry_count`, the end of its log in `log_text`, ...).
    pub lane: CiLane,
    /// Its pikaci run; `null` when it has none, or the run is gone (gc).
    #[schema(required = true)]
    pub pikaci_run: Option<RunRecord>,
    /// Its pikaci run's log facts; `null` with `pikaci_run`.
    #[schema(required = true)]
    pub pikaci_log_metadata: Option<RunLogsMetadata>,
    /// The run's `prepared-outputs.json` (upstream's `PikaCiPreparedOutputs`);
    /// `null` when it has none or the file is refused.
    #[schema(required = true, value_type = Option<Object>)]
    pub pikaci_prepared_outputs: Option<serde_json::Value>,
}

/// What part of one log an answer carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogPart {
    /// The byte offset of the first byte returned.
    pub offset: u64,
    /// How many bytes were returned.
    pub len: u64,
    /// The log's size when it was read.
    pub total_size: u64,
    /// Whether bytes of the log lie outside what was returned.
    pub truncated: bool,
    /// Whether the log exists.
    pub exists: bool,
    /// When `truncated`: the URL (path and query) of the raw route, which
    /// streams the whole log or any byte range of it; omitted otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_url: Option<String>,
}

impl From<&pikaci_store::LogChunk> for LogPart {
    fn from(c: &pikaci_store::LogChunk) -> Self {
        Self {
            offset: c.offset,
            len: c.len,
            total_size: c.total_size,
            truncated: c.truncated,
            exists: c.exists,
            raw_url: None,
        }
    }
}

/// `GET /news/api/forge/pikaci/prepared-outputs/{run_id}`: what the run
/// prepared, its `prepared-outputs.json` with every key as read.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreparedOutputsResponse {
    /// The run.
    pub run_id: RunId,
    /// The run's `prepared-outputs.json`.
    pub prepared_outputs: PreparedOutputs,
}

/// `GET /news/api/forge/pikaci/logs/{run_id}`: `{run_id, job, host, guest}` and
/// what part of each log was returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LogsResponse {
    /// The run.
    pub run_id: RunId,
    /// The job (the run's first job when none was asked for).
    pub job: JobId,
    /// `host.log`'s text; `null` when not asked for.
    #[schema(required = true)]
    pub host: Option<String>,
    /// `guest.log`'s text; `null` when not asked for.
    #[schema(required = true)]
    pub guest: Option<String>,
    /// What part of `host.log` was returned; omitted when not asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_log: Option<LogPart>,
    /// What part of `guest.log` was returned; omitted when not asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_log: Option<LogPart>,
}

/// `GET /news/api/forge/lane/{lane_run_id}/log`: a lane run's own log.
///
/// The keys are in alphabetical order, as this answer has always had them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LaneLog {
    /// Whether the log exists.
    pub exists: bool,
    /// The lane run.
    pub lane_run_id: LaneRunId,
    /// How many bytes were returned.
    pub len: u64,
    /// The text returned.
    pub log: String,
    /// The byte offset of the first byte returned.
    pub offset: u64,
    /// The log's size when it was read.
    pub total_size: u64,
    /// Whether bytes of the log lie outside what was returned.
    pub truncated: bool,
}

/// A lane action's answer: the lane run it changed, or the new one a rerun made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LaneActionDone {
    /// The lane run.
    pub lane_run_id: LaneRunId,
}

/// `POST /news/api/forge/wake`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Woken {
    /// Whether a scheduler was there to wake.
    pub woken: bool,
}

//! `/news/api/forge/branch/...`: branches, their suites and lanes, and the logs
//! of a branch's lane; each answer carries upstream's view beside ours.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Response;

use pikaci_core::{RunId, RunLogsMetadata, RunRecord};

use super::answer::json_answer;
use super::compat::{logs, view};
use super::dto::{self, BranchDetail, BranchLogsResponse};
use super::query::{self, Params};
use crate::auth::ReadAccess;
use crate::db::LaneRunId;
use crate::error::ApiError;
use crate::reads::HeavyPermit;
use crate::rows::branch_or_404;
use crate::state::AppState;

/// How many suites upstream's view of a branch lists (`ci_runs`).
const CI_RUNS: u32 = 8;

/// `GET /news/api/forge/branch/{branch_id}`: our view of the branch and its
/// suites, and upstream's (`branch`, `ci_runs`).
pub(crate) async fn detail(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(branch_id): Path<String>,
) -> Result<Json<BranchDetail>, ApiError> {
    let branch = branch_or_404(&state, &branch_id).await?;
    let suites = state.db.suites(branch.id).await?;
    let details = state.db.suite_details(branch.id, CI_RUNS).await?;
    let meta = state.db.branch_meta(branch.id).await?;
    let now = state.db.clock().now();
    let summary = view::branch_summary(&branch, meta, details.first(), repo_view(&state));
    let ci_runs = details.into_iter().map(|s| view::ci_run(s, now)).collect();
    Ok(Json(BranchDetail::new(branch, suites, summary, ci_runs)))
}

fn repo_view(state: &AppState) -> view::RepoView<'_> {
    view::RepoView {
        name: &state.repo,
        default_branch: &state.default_branch,
    }
}

/// `GET /news/api/forge/branch/resolve?name=BRANCH` (or upstream's
/// `?branch_name=`): the branch of that name.
pub(crate) async fn resolve(
    _: ReadAccess,
    State(state): State<AppState>,
    Query(params): Query<Params>,
) -> Result<Json<dto::Branch>, ApiError> {
    let name = params
        .get("name")
        .or_else(|| params.get("branch_name"))
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::BadRequest("name= (or branch_name=) is required".into()))?;
    if name.len() > 255 || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "invalid branch name {:?}",
            query::shorten(name)
        )));
    }
    state
        .db
        .branch_by_name(name)
        .await?
        .map(|b| Json(dto::Branch::new(b, &state.repo)))
        .ok_or_else(|| ApiError::NotFound(format!("no branch named {:?}", query::shorten(name))))
}

/// `GET /news/api/forge/branch/{branch_id}/logs?lane=&lane_run_id=`: a lane
/// run of the branch (by default upstream's choice: the newest failed one)
/// with the end of its log, and its pikaci run and log facts, `null` when it
/// has none or the run is gone.
pub(crate) async fn logs(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(branch_id): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let branch = branch_or_404(&state, &branch_id).await?;
    let lane_name = params.get("lane").cloned();
    if let Some(l) = &lane_name {
        pikaci_core::validate_id("lane", l)
            .map_err(|e| ApiError::BadRequest(format!("invalid lane: {e}")))?;
    }
    let lane_run_id = params
        .get("lane_run_id")
        .map(|v| query::row_id::<LaneRunId>("lane_run_id", v))
        .transpose()?;
    let no_such = || ApiError::NotFound(format!("branch {} has no such lane run", branch.id));
    let lane = state
        .db
        .lane_for_branch(branch.id, lane_name, lane_run_id)
        .await?
        .ok_or_else(no_such)?;
    let detail = state.db.lane_detail(lane.id).await?.ok_or_else(no_such)?;
    let (pikaci_run, pikaci_log_metadata, permit) = match &lane.pikaci_run_id {
        None => (None, None, None),
        Some(run) => pikaci_run_or_gone(&state, run.clone()).await?,
    };
    let log_text = logs::lane_log_text(&state, lane.id).await;
    let pikaci_prepared_outputs = match (&lane.pikaci_run_id, &pikaci_run) {
        (Some(run), Some(_)) => prepared_outputs(&state, run.clone()).await,
        _ => None,
    };
    let now = state.db.clock().now();
    let answer = BranchLogsResponse {
        branch_id: branch.id,
        branch_name: branch.name,
        run_id: lane.suite_id,
        lane: view::ci_lane(detail, log_text, now),
        pikaci_run,
        pikaci_log_metadata,
        pikaci_prepared_outputs,
    };
    // A large record was read under a permit: it is held until the answer is sent.
    json_answer(&answer, permit, 4096)
}

/// The run's `prepared-outputs.json` as upstream's branch logs carry it;
/// `None` when it has none, or when the file is refused (too large, a link
/// or not a plain file): the rest of the answer stands, and the prepared
/// outputs route says why.
async fn prepared_outputs(state: &AppState, run: RunId) -> Option<serde_json::Value> {
    let prepared = state.reads.prepared_outputs(run).await.ok()??;
    serde_json::to_value(prepared).ok()
}

/// The pikaci run of a lane as the branch logs answer it: the record, its
/// log facts, and the permit a large record was read under.
type LaneRun = (
    Option<RunRecord>,
    Option<RunLogsMetadata>,
    Option<HeavyPermit>,
);

/// A lane's pikaci run and its log facts; both `None` when the run is gone
/// (garbage-collected).
async fn pikaci_run_or_gone(state: &AppState, run: RunId) -> Result<LaneRun, ApiError> {
    match state
        .reads
        .record_with_log_metadata(run)
        .await
        .map_err(ApiError::from)
    {
        Ok((record, meta, permit)) => Ok((Some(record), Some(meta), permit)),
        Err(ApiError::NotFound(_)) => Ok((None, None, None)),
        Err(e) => Err(e),
    }
}

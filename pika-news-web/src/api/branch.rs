//! `/news/api/forge/branch/...`: branches, their suites and lanes, and the logs
//! of a branch's lane.

use axum::Json;
use axum::extract::{Path, Query, State};

use super::dto::{self, BranchDetail, BranchLogsResponse};
use super::pikaci::{load_run_with_log_metadata, parse_run_id};
use super::query::{self, Params};
use crate::auth::ReadAccess;
use crate::db::{self, BranchId, LaneRunId};
use crate::error::ApiError;
use crate::state::AppState;

async fn branch_or_404(state: &AppState, raw: &str) -> Result<db::Branch, ApiError> {
    let id: BranchId = query::row_id("branch id", raw)?;
    state
        .db
        .branch(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("branch {id} not found")))
}

/// `GET /news/api/forge/branch/{branch_id}`.
pub(crate) async fn detail(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(branch_id): Path<String>,
) -> Result<Json<BranchDetail>, ApiError> {
    let branch = branch_or_404(&state, &branch_id).await?;
    let suites = state.db.suites(branch.id).await?;
    Ok(Json(BranchDetail::new(branch, suites)))
}

/// `GET /news/api/forge/branch/resolve?name=BRANCH`: the branch of that name.
pub(crate) async fn resolve(
    _: ReadAccess,
    State(state): State<AppState>,
    Query(params): Query<Params>,
) -> Result<Json<dto::Branch>, ApiError> {
    let name = params
        .get("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::BadRequest("name= is required".into()))?;
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
        .map(|b| Json(b.into()))
        .ok_or_else(|| ApiError::NotFound(format!("no branch named {:?}", query::shorten(name))))
}

/// `GET /news/api/forge/branch/{branch_id}/logs?lane=&lane_run_id=`.
pub(crate) async fn logs(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(branch_id): Path<String>,
    Query(params): Query<Params>,
) -> Result<Json<BranchLogsResponse>, ApiError> {
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
    let lane = state
        .db
        .lane_for_branch(branch.id, lane_name, lane_run_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("branch {} has no such lane run", branch.id)))?;
    let (pikaci_run, pikaci_log_metadata) = match &lane.pikaci_run_id {
        None => (None, None),
        Some(raw) => {
            let run = parse_run_id(raw).map_err(|_| {
                ApiError::Internal(format!("lane {} records an invalid run id", lane.id))
            })?;
            let (record, meta) = load_run_with_log_metadata(&state, run).await?;
            (Some(record), Some(meta))
        }
    };
    Ok(Json(BranchLogsResponse {
        branch_id: branch.id,
        branch_name: branch.name,
        run_id: lane.id,
        lane: lane.into(),
        pikaci_run,
        pikaci_log_metadata,
    }))
}

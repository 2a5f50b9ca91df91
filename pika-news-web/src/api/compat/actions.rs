//! Upstream's lane actions, scoped to a branch or a nightly run:
//!
//! ```text
//! POST /news/branch/{branch_id}/ci/{fail|requeue|rerun}/{lane_run_id}
//! POST /news/branch/{branch_id}/ci/recover/{run_id}        run_id: a suite
//! POST /news/nightly/{nightly_run_id}/{fail|requeue|rerun}/{lane_run_id}
//! POST /news/nightly/{nightly_run_id}/recover
//! ```
//!
//! A lane not in that branch's suites (or that nightly run) is a 404; an
//! action its status does not allow is a 409 (fail: queued or running;
//! requeue: queued, running or failed; rerun: finished). `ph` sends `{}` as
//! the body; the body is not read.

use axum::Json;
use axum::extract::{Path, State};

use super::dto::{BranchRerun, LaneMutation, NightlyRerun, RecoverDone};
use super::view::lane_status;
use crate::auth::WriteAccess;
use crate::db::{BranchId, LaneAction, LaneRunId, LaneScope, NightlyRunId, SuiteId};
use crate::error::ApiError;
use crate::query;
use crate::state::AppState;

fn branch_scope(raw: &str) -> Result<(BranchId, LaneScope), ApiError> {
    let id: BranchId = query::row_id("branch id", raw)?;
    Ok((id, LaneScope::Branch(id)))
}

fn nightly_scope(raw: &str) -> Result<(NightlyRunId, LaneScope), ApiError> {
    let id: NightlyRunId = query::row_id("nightly run id", raw)?;
    Ok((id, LaneScope::Nightly(id)))
}

/// Applies a fail or requeue in `scope`, answering upstream's `LaneMutationResponse`.
async fn mutate(
    state: &AppState,
    scope: LaneScope,
    lane_raw: &str,
    action: LaneAction,
) -> Result<Json<LaneMutation>, ApiError> {
    let lane: LaneRunId = query::row_id("lane run id", lane_raw)?;
    let (lane_run_id, status) = state.db.lane_action_in(scope, lane, action).await?;
    state.wake();
    let (branch_id, nightly_run_id) = match scope {
        LaneScope::Branch(b) => (Some(b), None),
        LaneScope::Nightly(n) => (None, Some(n)),
    };
    Ok(Json(LaneMutation {
        status: "ok",
        branch_id,
        nightly_run_id,
        lane_run_id,
        lane_status: lane_status(status),
    }))
}

/// `POST /news/branch/{branch_id}/ci/fail/{lane_run_id}`.
pub(crate) async fn branch_fail(
    _: WriteAccess,
    State(state): State<AppState>,
    Path((branch, lane)): Path<(String, String)>,
) -> Result<Json<LaneMutation>, ApiError> {
    mutate(&state, branch_scope(&branch)?.1, &lane, LaneAction::Fail).await
}

/// `POST /news/branch/{branch_id}/ci/requeue/{lane_run_id}`.
pub(crate) async fn branch_requeue(
    _: WriteAccess,
    State(state): State<AppState>,
    Path((branch, lane)): Path<(String, String)>,
) -> Result<Json<LaneMutation>, ApiError> {
    mutate(&state, branch_scope(&branch)?.1, &lane, LaneAction::Requeue).await
}

/// `POST /news/branch/{branch_id}/ci/rerun/{lane_run_id}`: a new run of the
/// lane, in the same suite.
pub(crate) async fn branch_rerun(
    _: WriteAccess,
    State(state): State<AppState>,
    Path((branch, lane)): Path<(String, String)>,
) -> Result<Json<BranchRerun>, ApiError> {
    let (branch_id, scope) = branch_scope(&branch)?;
    let lane: LaneRunId = query::row_id("lane run id", &lane)?;
    let (new, _) = state
        .db
        .lane_action_in(scope, lane, LaneAction::Rerun)
        .await?;
    state.wake();
    let suite = state
        .db
        .lane_detail(new)
        .await?
        .map(|d| d.run.suite_id)
        .ok_or_else(|| ApiError::Internal(format!("the rerun lane run {new} vanished")))?;
    Ok(Json(BranchRerun {
        status: "ok",
        branch_id,
        rerun_suite_id: suite,
        lane_run_id: new,
    }))
}

/// `POST /news/branch/{branch_id}/ci/recover/{run_id}`: every queued,
/// running or failed lane of the suite back in the queue.
pub(crate) async fn branch_recover(
    _: WriteAccess,
    State(state): State<AppState>,
    Path((branch, run)): Path<(String, String)>,
) -> Result<Json<RecoverDone>, ApiError> {
    let (branch_id, scope) = branch_scope(&branch)?;
    let suite: SuiteId = query::row_id("run id", &run)?;
    let n = state.db.recover_in(scope, Some(suite)).await?;
    state.wake();
    Ok(Json(RecoverDone {
        status: "ok",
        branch_id: Some(branch_id),
        run_id: Some(suite),
        nightly_run_id: None,
        recovered_lane_count: n,
    }))
}

/// `POST /news/nightly/{nightly_run_id}/fail/{lane_run_id}`.
pub(crate) async fn nightly_fail(
    _: WriteAccess,
    State(state): State<AppState>,
    Path((nightly, lane)): Path<(String, String)>,
) -> Result<Json<LaneMutation>, ApiError> {
    mutate(&state, nightly_scope(&nightly)?.1, &lane, LaneAction::Fail).await
}

/// `POST /news/nightly/{nightly_run_id}/requeue/{lane_run_id}`.
pub(crate) async fn nightly_requeue(
    _: WriteAccess,
    State(state): State<AppState>,
    Path((nightly, lane)): Path<(String, String)>,
) -> Result<Json<LaneMutation>, ApiError> {
    mutate(
        &state,
        nightly_scope(&nightly)?.1,
        &lane,
        LaneAction::Requeue,
    )
    .await
}

/// `POST /news/nightly/{nightly_run_id}/rerun/{lane_run_id}`: a new run of
/// the lane, in the same nightly run.
pub(crate) async fn nightly_rerun(
    _: WriteAccess,
    State(state): State<AppState>,
    Path((nightly, lane)): Path<(String, String)>,
) -> Result<Json<NightlyRerun>, ApiError> {
    let (nightly_run_id, scope) = nightly_scope(&nightly)?;
    let lane: LaneRunId = query::row_id("lane run id", &lane)?;
    let (new, _) = state
        .db
        .lane_action_in(scope, lane, LaneAction::Rerun)
        .await?;
    state.wake();
    Ok(Json(NightlyRerun {
        status: "ok",
        nightly_run_id,
        rerun_run_id: nightly_run_id,
        lane_run_id: new,
    }))
}

/// `POST /news/nightly/{nightly_run_id}/recover`.
pub(crate) async fn nightly_recover(
    _: WriteAccess,
    State(state): State<AppState>,
    Path(nightly): Path<String>,
) -> Result<Json<RecoverDone>, ApiError> {
    let (nightly_run_id, scope) = nightly_scope(&nightly)?;
    let n = state.db.recover_in(scope, None).await?;
    state.wake();
    Ok(Json(RecoverDone {
        status: "ok",
        branch_id: None,
        run_id: None,
        nightly_run_id: Some(nightly_run_id),
        recovered_lane_count: n,
    }))
}

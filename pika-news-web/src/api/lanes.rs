//! Lane actions and the wake endpoint (write role).

use axum::Json;
use axum::extract::{Path, Query, State};
use pikaci_store::{DiskFs, read_chunk_at};

use super::query;
use crate::auth::{ReadAccess, WriteAccess};
use crate::db::LaneAction;
use crate::error::ApiError;
use crate::state::AppState;

/// `POST /news/api/forge/lane/{lane_run_id}/{action}` with action one of
/// `rerun`, `requeue`, `fail`, `recover`.
pub(crate) async fn action(
    _: WriteAccess,
    State(state): State<AppState>,
    Path((lane_run_id, action)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = query::positive("lane run id", &lane_run_id)?;
    let action = match action.as_str() {
        "rerun" => LaneAction::Rerun,
        "requeue" => LaneAction::Requeue,
        "fail" => LaneAction::Fail,
        "recover" => LaneAction::Recover,
        other => {
            return Err(ApiError::BadRequest(format!(
                "unknown lane action {:?}: use rerun, requeue, fail or recover",
                query::shorten(other)
            )));
        }
    };
    let lane = state.db.lane_action(id, action).await?;
    if let Some(w) = &state.waker {
        w.notify_one();
    }
    Ok(Json(serde_json::json!({ "lane_run_id": lane })))
}

/// `POST /news/api/forge/wake`: look for new heads and queued lanes now.
pub(crate) async fn wake(_: WriteAccess, State(state): State<AppState>) -> Json<serde_json::Value> {
    let woken = state.waker.as_ref().map(|w| w.notify_one()).is_some();
    Json(serde_json::json!({ "woken": woken }))
}

/// `GET /news/api/forge/lane/{lane_run_id}/log?tail=|offset=&limit=`: the lane
/// run's own log (what the lane printed, and pika-news' account of it).
pub(crate) async fn log(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(lane_run_id): Path<String>,
    Query(params): Query<super::query::Params>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = query::positive("lane run id", &lane_run_id)?;
    let range = query::range(&params)?;
    if !state.db.lane_exists(id).await? {
        return Err(ApiError::NotFound(format!("lane run {id} not found")));
    }
    let Some(dir) = state.data_dir.clone() else {
        return Err(ApiError::NotFound(format!(
            "lane run {id} has no log on this server"
        )));
    };
    let path = crate::lanes::lane_log_path(&dir, id);
    let read = tokio::task::spawn_blocking(move || read_chunk_at(&DiskFs, &path, range))
        .await
        .map_err(|e| ApiError::Internal(format!("a read task failed: {e}")))?;
    read.map(|c| {
        Json(serde_json::json!({
            "lane_run_id": id,
            "log": c.text,
            "offset": c.offset,
            "len": c.len,
            "total_size": c.total_size,
            "truncated": c.truncated,
            "exists": c.exists,
        }))
    })
    .map_err(|e| {
        tracing::error!(error = %e, lane_run_id = id, "reading a lane log failed");
        ApiError::Internal(format!("the log of lane run {id} cannot be read"))
    })
}

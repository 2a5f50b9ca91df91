//! Lane actions and the wake endpoint (write role).

use axum::Json;
use axum::extract::{Path, State};

use super::query;
use crate::auth::WriteAccess;
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

//! `/news/api/forge/lane/{lane_run_id}/...`: a lane run's own log (read) and
//! the lane actions (write); and the wake endpoint.

use axum::Json;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::response::{IntoResponse, Response};

use super::answer::json_answer;
use super::dto::{LaneActionDone, LaneLog, Woken};
use super::query::{self, Params};
use crate::auth::{ReadAccess, WriteAccess};
use crate::db::{LaneAction, LaneRunId};
use crate::error::ApiError;
use crate::session::{self, Writer};
use crate::state::AppState;

fn lane_run_id(raw: &str) -> Result<LaneRunId, ApiError> {
    query::row_id("lane run id", raw)
}

/// `POST /news/api/forge/lane/{lane_run_id}/{action}` with action one of
/// `rerun`, `requeue`, `fail`, `recover`.
///
/// The caller is checked before the path is looked at: the `Authorization`
/// header (answered with JSON), or a page's form (the page cookie and its
/// `csrf` field, answered by sending the browser back to the page).
pub(crate) async fn action(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (mut parts, writer) = session::writer(request, &state).await?;
    let Path((lane_run_id_raw, action)) =
        Path::<(String, String)>::from_request_parts(&mut parts, &state)
            .await
            .map_err(|_| ApiError::BadRequest("invalid lane action path".into()))?;
    let id = lane_run_id(&lane_run_id_raw)?;
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
    state.wake();
    Ok(match writer {
        Writer::Api => Json(LaneActionDone { lane_run_id: lane }).into_response(),
        Writer::Form { back } => session::back_to(&back),
    })
}

/// `POST /news/api/forge/wake`: look for new heads and queued lanes now.
pub(crate) async fn wake(_: WriteAccess, State(state): State<AppState>) -> Json<Woken> {
    Json(Woken {
        woken: state.wake(),
    })
}

/// `GET /news/api/forge/lane/{lane_run_id}/log?tail=|offset=&limit=`: the lane
/// run's own log (what the lane printed, and pika-news' account of it), at
/// most [`ANSWER_BUDGET`](crate::reads::encoded::ANSWER_BUDGET) bytes of it once encoded.
pub(crate) async fn log(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(lane_run_id_raw): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let id = lane_run_id(&lane_run_id_raw)?;
    let range = query::range(&params)?;
    if !state.db.lane_exists(id).await? {
        return Err(ApiError::NotFound(format!("lane run {id} not found")));
    }
    if !state.reads.has_lane_logs() {
        return Err(ApiError::NotFound(format!(
            "lane run {id} has no log on this server"
        )));
    }
    let (c, permit) = state.reads.lane_log(id, range).await?;
    let hint = c.text.len();
    let answer = LaneLog {
        exists: c.exists,
        lane_run_id: id,
        len: c.len,
        log: c.text,
        offset: c.offset,
        total_size: c.total_size,
        truncated: c.truncated,
    };
    json_answer(&answer, permit, hint)
}

//! Nightly runs: `GET /news/api/forge/nightly/{nightly_run_id}` (upstream's
//! `NightlyDetailResponse`) and `GET /news/api/forge/nightly` (the newest).

use axum::Json;
use axum::extract::{Path, State};

use super::dto::{NightlyDetail, NightlyList};
use super::view::nightly_detail;
use crate::api::query;
use crate::auth::ReadAccess;
use crate::db::NightlyRunId;
use crate::error::ApiError;
use crate::state::AppState;

/// How many nightly runs the list shows.
const LISTED: u32 = 30;

/// `GET /news/api/forge/nightly/{nightly_run_id}`.
pub(crate) async fn detail(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<NightlyDetail>, ApiError> {
    let id: NightlyRunId = query::row_id("nightly run id", &raw)?;
    let run = state
        .db
        .nightly(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("nightly run {id} not found")))?;
    Ok(Json(nightly_detail(
        run,
        &state.repo,
        state.db.clock().now(),
    )))
}

/// `GET /news/api/forge/nightly`: the newest nightly runs, newest first.
pub(crate) async fn list(
    _: ReadAccess,
    State(state): State<AppState>,
) -> Result<Json<NightlyList>, ApiError> {
    let now = state.db.clock().now();
    let runs = state.db.nightlies(LISTED).await?;
    Ok(Json(NightlyList {
        nightly_runs: runs
            .into_iter()
            .map(|r| nightly_detail(r, &state.repo, now))
            .collect(),
    }))
}

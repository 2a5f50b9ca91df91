//! Nightly runs: `GET /news/api/forge/nightly/{nightly_run_id}` (upstream's
//! `NightlyDetailResponse`) and `GET /news/api/forge/nightly` (the newest).

use axum::Json;
use axum::extract::{Path, State};

use super::dto::{NightlyDetail, NightlyList};
use super::view::nightly_detail;
use crate::auth::ReadAccess;
use crate::error::ApiError;
use crate::rows::nightly_or_404;
use crate::state::AppState;

/// How many nightly runs the list shows.
const LISTED: u32 = 30;

/// `GET /news/api/forge/nightly/{nightly_run_id}`.
pub(crate) async fn detail(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> Result<Json<NightlyDetail>, ApiError> {
    let run = nightly_or_404(&state, &raw).await?;
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

//! Whole-suite reruns: every lane of a branch's newest suite (or only its
//! failed ones), or of a nightly run, as new attempts in the same suite.
//!
//! ```text
//! POST {prefix}/branch/{branch_id}/ci/rerun[?failed=1]
//! POST {prefix}/nightly/{nightly_run_id}/rerun[?failed=1]
//! ```
//!
//! With a token the answer is JSON; from a page's form (cookie and `csrf`)
//! it is a `303` back to the page.

use axum::Json;
use axum::extract::State;
use axum::extract::{FromRequestParts as _, Path, Query};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{LaneRunId, SuiteId};
use crate::error::ApiError;
use crate::query::{self, Params};
use crate::rows::{branch_or_404, nightly_or_404};
use crate::session::{self, Writer};
use crate::state::AppState;

/// What a suite rerun queued.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuiteRerun {
    /// The suite the new attempts belong to.
    pub(crate) suite_id: SuiteId,
    /// The new lane runs, one per lane rerun.
    pub(crate) lane_run_ids: Vec<LaneRunId>,
}

/// Whether `?failed=1` asks for the failed lanes only (no other parameter).
fn failed_only(params: &Params) -> Result<bool, ApiError> {
    if let Some(key) = params.keys().find(|k| k.as_str() != "failed") {
        return Err(ApiError::BadRequest(format!(
            "unknown parameter {:?}: a suite rerun takes only failed",
            query::shorten(key)
        )));
    }
    query::flag(params, "failed")
}

/// Reruns `suite` and answers as the writer wants.
async fn rerun(
    state: &AppState,
    writer: Writer,
    suite_id: SuiteId,
    failed: bool,
) -> Result<Response, ApiError> {
    let lane_run_ids = state.db.rerun_suite(suite_id, failed).await?;
    state.wake();
    Ok(match writer {
        Writer::Api => Json(SuiteRerun {
            suite_id,
            lane_run_ids,
        })
        .into_response(),
        Writer::Form { back } => session::back_to(&back),
    })
}

/// The writer, the path's one id (raw) and `failed` of a rerun request.
async fn parse(
    state: &AppState,
    request: axum::extract::Request,
    what: &str,
) -> Result<(Writer, String, bool), ApiError> {
    let (mut parts, writer) = session::writer(request, state).await?;
    let Path(raw) = Path::<String>::from_request_parts(&mut parts, state)
        .await
        .map_err(|_| ApiError::BadRequest(format!("invalid {what} path")))?;
    let Query(params) = Query::<Params>::from_request_parts(&mut parts, state)
        .await
        .map_err(|_| ApiError::BadRequest("invalid query".into()))?;
    Ok((writer, raw, failed_only(&params)?))
}

/// `POST {prefix}/branch/{branch_id}/ci/rerun`: the branch's newest suite.
pub(crate) async fn branch(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (writer, raw, failed) = parse(&state, request, "branch").await?;
    let branch = branch_or_404(&state, &raw).await?;
    let (suite_id, _) =
        state.db.newest_suite(branch.id).await?.ok_or_else(|| {
            ApiError::NotFound(format!("branch {} has no suite to rerun", branch.id))
        })?;
    rerun(&state, writer, suite_id, failed).await
}

/// `POST {prefix}/nightly/{nightly_run_id}/rerun`: a whole nightly run.
pub(crate) async fn nightly(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (writer, raw, failed) = parse(&state, request, "nightly run").await?;
    let run = nightly_or_404(&state, &raw).await?;
    rerun(&state, writer, run.suite_id, failed).await
}

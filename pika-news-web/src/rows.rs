//! The rows a path names, or the error a page or an answer gives when it
//! names none: 400 when the path segment is not an id, 404 when no such
//! row exists. Shared by the API and the pages.

use crate::db::{self, BranchId, NightlyRunId};
use crate::error::ApiError;
use crate::query;
use crate::state::AppState;

/// The branch `raw` names: 400 when it is not an id, 404 when there is no such branch.
pub(crate) async fn branch_or_404(state: &AppState, raw: &str) -> Result<db::Branch, ApiError> {
    branch_by_id_or_404(state, query::row_id("branch id", raw)?).await
}

/// The branch `id`, or 404.
pub(crate) async fn branch_by_id_or_404(
    state: &AppState,
    id: BranchId,
) -> Result<db::Branch, ApiError> {
    state
        .db
        .branch(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("branch {id} not found")))
}

/// The nightly run `raw` names: 400 when it is not an id, 404 when there is
/// no such run.
pub(crate) async fn nightly_or_404(
    state: &AppState,
    raw: &str,
) -> Result<db::NightlyRun, ApiError> {
    nightly_by_id_or_404(state, query::row_id("nightly run id", raw)?).await
}

/// The nightly run `id`, or 404.
pub(crate) async fn nightly_by_id_or_404(
    state: &AppState,
    id: NightlyRunId,
) -> Result<db::NightlyRun, ApiError> {
    state
        .db
        .nightly(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("nightly run {id} not found")))
}

//! Merge and close, upstream's `ph merge` / `ph close` and the branch page's
//! buttons:
//!
//! ```text
//! POST {prefix}/api/forge/branch/{branch_id}/merge   (ph: bearer token, body {})
//! POST {prefix}/api/forge/branch/{branch_id}/close
//! POST {prefix}/branch/{branch_id}/merge             (the page: cookie and csrf field)
//! POST {prefix}/branch/{branch_id}/close
//! ```
//!
//! The handlers parse, call [`crate::branch_actions::Forge`] and answer:
//! JSON (`BranchActionResponse`) to a bearer token, `303` back to the page to
//! a form. The body of an API call is not read (`ph` sends `{}`).

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::response::{IntoResponse, Response};

use super::dto::BranchAction;
use crate::api::query;
use crate::auth::presented_token;
use crate::branch_actions::{Actor, Forge};
use crate::db::{BranchId, Role};
use crate::error::ApiError;
use crate::session::{self, Writer};
use crate::state::AppState;

/// The caller (checked for the write role first), the branch and the forge.
async fn parse(
    state: &AppState,
    request: axum::extract::Request,
) -> Result<(Writer, Actor, BranchId, Forge), ApiError> {
    let (mut parts, writer) = session::writer(request, state).await?;
    let Path(raw) = Path::<String>::from_request_parts(&mut parts, state)
        .await
        .map_err(|_| ApiError::BadRequest("invalid branch path".into()))?;
    let id: BranchId = query::row_id("branch id", &raw)?;
    // The token `writer` accepted: the bearer header, else the page cookie.
    let token = presented_token(&parts)?.ok_or(ApiError::Unauthorized)?;
    let owner = state
        .db
        .token_owner(token)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let actor = Actor {
        name: owner.npub.unwrap_or(owner.name),
        is_admin: owner.role == Role::Admin,
    };
    let forge = state
        .forge
        .clone()
        .ok_or_else(|| ApiError::NotFound("this server merges and closes no branches".into()))?;
    Ok((writer, actor, id, forge))
}

fn answer(writer: Writer, done: BranchAction) -> Response {
    match writer {
        Writer::Api => Json(done).into_response(),
        Writer::Form { back } => session::back_to(&back),
    }
}

/// Merges the branch into the default branch, if the merge policy allows
/// this caller to merge its head.
pub(crate) async fn merge(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (writer, actor, id, forge) = parse(&state, request).await?;
    let commit = forge.merge(&state.db, id, &actor).await?;
    state.wake();
    Ok(answer(
        writer,
        BranchAction {
            status: "ok",
            branch_id: id,
            merge_commit_sha: Some(commit.to_string()),
            deleted: None,
        },
    ))
}

/// Closes the branch: deletes its ref and cancels its unfinished lanes.
pub(crate) async fn close(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (writer, _, id, forge) = parse(&state, request).await?;
    forge.close(&state.db, id).await?;
    state.wake();
    Ok(answer(
        writer,
        BranchAction {
            status: "ok",
            branch_id: id,
            merge_commit_sha: None,
            deleted: Some(true),
        },
    ))
}

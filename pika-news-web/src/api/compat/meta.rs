//! Upstream's wake (`POST {prefix}/api/forge/ci/wake`), who-am-I
//! (`GET {prefix}/api/me`) and the branch address `ph url` prints
//! (`GET {prefix}/branch/{branch_id}`, which leads to the branch's CI page
//! under the same prefix).

use axum::Json;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::dto::{Me, WakeCi};
use crate::auth::{ReadAccess, WriteAccess, presented_token};
use crate::db::{BranchId, Role};
use crate::error::ApiError;
use crate::links::Prefix;
use crate::query;
use crate::state::AppState;

/// `POST /news/api/forge/ci/wake`: look for new heads and queued lanes now.
pub(crate) async fn wake(_: WriteAccess, State(state): State<AppState>) -> Json<WakeCi> {
    let message = if state.wake() {
        "scheduler wake requested"
    } else {
        "no scheduler runs in this server; nothing to wake"
    };
    Json(WakeCi {
        status: "ok",
        message: message.to_owned(),
    })
}

/// The token a request presents: its name, role and the Nostr key a login
/// gave it to (a token is required even when reads are public: without one
/// there is nobody to describe).
pub(crate) struct Caller {
    name: String,
    role: Role,
    npub: Option<String>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = presented_token(parts)?.ok_or(ApiError::Unauthorized)?;
        let owner = state
            .db
            .token_owner(token)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(Self {
            name: owner.name,
            role: owner.role,
            npub: owner.npub,
        })
    }
}

/// `GET {prefix}/api/me`: the Nostr key a login gave the token to (for a
/// token made with `pika-news token create`, its name), and what its role
/// allows.
pub(crate) async fn me(_: ReadAccess, caller: Caller) -> Json<Me> {
    Json(Me {
        npub: caller.npub.unwrap_or(caller.name),
        is_admin: caller.role == Role::Admin,
        can_chat: false,
        can_forge_write: caller.role >= Role::Write,
    })
}

/// `GET /news/branch/{branch_id}`: 303 to the branch's CI page, keeping the
/// query (a `?token=` goes on to the page).
pub(crate) async fn branch_page(
    prefix: Prefix,
    Path(raw): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let id: BranchId = query::row_id("branch id", &raw)?;
    let page = format!("{}/branch/{id}/ci", prefix.as_str());
    let to = match q.filter(|q| !q.is_empty()) {
        Some(q) => format!("{page}?{q}"),
        None => page,
    };
    let location = HeaderValue::from_str(&to)
        .map_err(|_| ApiError::BadRequest("the query cannot be passed on".into()))?;
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
}

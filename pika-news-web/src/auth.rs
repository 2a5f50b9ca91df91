//! Authentication as extractors: [`ReadAccess`] and [`WriteAccess`].
//!
//! `Authorization: Bearer <token>`; the token's SHA-256 is looked up and
//! compared in constant time. Tokens are never logged.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::db::Role;
use crate::error::ApiError;
use crate::state::AppState;

/// The cookie the page sets from `?token=` (reads only; writes need the header).
pub const COOKIE: &str = "pika_news_token";

/// The token in the page cookie, if any.
fn cookie_token(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .filter(|t| !t.is_empty() && t.len() <= 256)
}

/// The bearer token of a request: `Ok(None)` when there is no header,
/// `Err` when the header is there but malformed.
fn bearer(parts: &Parts) -> Result<Option<&str>, ApiError> {
    let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::Unauthorized)?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::Unauthorized)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.len() > 256 {
        return Err(ApiError::Unauthorized);
    }
    Ok(Some(token))
}

async fn role_of(parts: &Parts, state: &AppState) -> Result<Option<Role>, ApiError> {
    match bearer(parts)? {
        None => Ok(None),
        Some(token) => match state.db.token_role(token).await? {
            Some(role) => Ok(Some(role)),
            None => Err(ApiError::Unauthorized),
        },
    }
}

/// May read: a valid token of any role, or no token when `public_read` is on.
#[derive(Debug, Clone, Copy)]
pub struct ReadAccess;

impl FromRequestParts<AppState> for ReadAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .is_none()
            && let Some(token) = cookie_token(parts)
        {
            return match state.db.token_role(token).await? {
                Some(_) => Ok(Self),
                None => Err(ApiError::Unauthorized),
            };
        }
        match role_of(parts, state).await? {
            Some(_) => Ok(Self),
            None if state.public_read => Ok(Self),
            None => Err(ApiError::Unauthorized),
        }
    }
}

/// May change lanes: a valid token with the write or admin role.
#[derive(Debug, Clone, Copy)]
pub struct WriteAccess;

impl FromRequestParts<AppState> for WriteAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match role_of(parts, state).await? {
            Some(role) if role >= Role::Write => Ok(Self),
            Some(_) => Err(ApiError::Forbidden("write")),
            None => Err(ApiError::Unauthorized),
        }
    }
}

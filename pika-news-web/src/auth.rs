//! Who may call what: [`Access`], the level a route needs (declared once per
//! route in the route list), and the extractors that enforce it,
//! [`ReadAccess`] and [`WriteAccess`].
//!
//! `Authorization: Bearer <token>`; the token's SHA-256 is looked up and
//! compared in constant time. Tokens are never logged.

use std::fmt;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::db::Role;
use crate::error::ApiError;
use crate::reads::Fresh;
use crate::state::AppState;

/// The access a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// Anyone, without a token.
    Public,
    /// A token of any role (or none, when `public_read` is on).
    Read,
    /// A token with the write or admin role.
    Write,
    /// A token with the admin role.
    Admin,
}

impl Access {
    /// The lowest role that has this access (`None`: no token needed).
    pub fn role(self) -> Option<Role> {
        match self {
            Self::Public => None,
            Self::Read => Some(Role::Read),
            Self::Write => Some(Role::Write),
            Self::Admin => Some(Role::Admin),
        }
    }

    /// The name shown in documentation.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }

    /// Whether a caller presenting `caller` (`None`: no token) may pass. A
    /// token that was presented but is unknown never gets this far.
    pub fn check(self, caller: Option<Role>, public_read: bool) -> Result<(), ApiError> {
        match (self.role(), caller) {
            (None, _) => Ok(()),
            (Some(Role::Read), None) if public_read => Ok(()),
            (Some(_), None) => Err(ApiError::Unauthorized),
            (Some(needed), Some(role)) if role >= needed => Ok(()),
            (Some(needed), Some(_)) => Err(ApiError::Forbidden(needed)),
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The cookie the page sets from `?token=` (reads only; writes need the header).
pub(crate) const COOKIE: &str = "pika_news_token";

/// The token in the page cookie, if any.
pub(crate) fn cookie_token(parts: &Parts) -> Option<&str> {
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

/// The role of `token`, checked against the token cache kept fresh by this
/// request's look at the disk (`fresh`). A token the cache has costs no
/// SQLite call; any other (an unknown or wrong one included) is looked up
/// on the blocking pool, never on the runtime's thread.
async fn role_by(state: &AppState, token: &str, fresh: Fresh) -> Result<Role, ApiError> {
    if let Some(changed) = fresh.db_changed()
        && let Some(role) = state.db.cached_token_role(token, changed)?
    {
        return Ok(role);
    }
    let (db, token, watched) = (state.db.clone(), token.to_owned(), fresh.db_changed());
    let role = tokio::task::spawn_blocking(move || match watched {
        // The change was applied by the cache's look above.
        Some(_) => db.token_role_watched(&token, false),
        None => db.token_role_sync(&token),
    })
    .await
    .map_err(|e| ApiError::Internal(format!("the token check failed: {e}")))??;
    role.ok_or(ApiError::Unauthorized)
}

async fn role_with(
    parts: &Parts,
    state: &AppState,
    fresh: Fresh,
) -> Result<Option<Role>, ApiError> {
    match bearer(parts)? {
        Some(token) => Ok(Some(role_by(state, token, fresh).await?)),
        None => Ok(None),
    }
}

/// The role of the bearer token of a request (`None` without one), after
/// this request's look at the disk.
pub(crate) async fn role_of(parts: &Parts, state: &AppState) -> Result<Option<Role>, ApiError> {
    role_with(parts, state, state.reads.fresh()).await
}

/// The token a request presents: the bearer header, else the page cookie;
/// `Ok(None)` when there is neither, `Err` for a malformed header.
pub(crate) fn presented_token(parts: &Parts) -> Result<Option<&str>, ApiError> {
    match bearer(parts)? {
        Some(t) => Ok(Some(t)),
        None => Ok(cookie_token(parts)),
    }
}

/// [`Access::Read`] as an extractor: a valid token of any role (header, or
/// the page cookie), or no token when `public_read` is on. It first looks at
/// what changed on disk (`Reads::fresh`),
/// once per request, which is what the token and record caches go by.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadAccess {
    fresh: Fresh,
}

impl ReadAccess {
    /// What this request saw of the disk when its access was checked.
    pub(crate) fn fresh(&self) -> Fresh {
        self.fresh
    }
}

impl FromRequestParts<AppState> for ReadAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let fresh = state.reads.fresh();
        let caller = match presented_token(parts)? {
            Some(token) => Some(role_by(state, token, fresh).await?),
            None => None,
        };
        Access::Read
            .check(caller, state.public_read)
            .map(|()| Self { fresh })
    }
}

/// [`Access::Write`] as an extractor: a valid bearer token with the write or
/// admin role (a cookie never opens a write).
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriteAccess;

impl FromRequestParts<AppState> for WriteAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let fresh = state.reads.fresh();
        let caller = role_with(parts, state, fresh).await?;
        Access::Write
            .check(caller, state.public_read)
            .map(|()| Self)
    }
}

/// [`Access::Admin`] as an extractor: a valid bearer token with the admin
/// role (a cookie never opens an admin route).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AdminAccess;

impl FromRequestParts<AppState> for AdminAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let fresh = state.reads.fresh();
        let caller = role_with(parts, state, fresh).await?;
        Access::Admin
            .check(caller, state.public_read)
            .map(|()| Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_levels() {
        use Access::*;
        for public_read in [false, true] {
            assert!(Public.check(None, public_read).is_ok());
            assert!(Admin.check(Some(Role::Admin), public_read).is_ok());
            assert!(Write.check(Some(Role::Admin), public_read).is_ok());
            assert!(Read.check(Some(Role::Read), public_read).is_ok());
            assert!(matches!(
                Write.check(None, public_read),
                Err(ApiError::Unauthorized)
            ));
            let e = Write.check(Some(Role::Read), public_read).unwrap_err();
            assert_eq!(e.to_string(), "this needs a token with the write role");
            assert!(matches!(
                Admin.check(Some(Role::Write), public_read),
                Err(ApiError::Forbidden(Role::Admin))
            ));
        }
        assert!(Read.check(None, true).is_ok());
        assert!(matches!(
            Read.check(None, false),
            Err(ApiError::Unauthorized)
        ));
    }
}

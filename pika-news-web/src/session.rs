//! How a browser holds its token, and who is looking at a page.
//!
//! - The page cookie ([`COOKIE`]: HttpOnly, SameSite=Strict, Path=/ (pages are under
//!   both /git and /news), and
//!   Secure when `[http] public_url` is https) is set only by the sign-in
//!   form (`pages::sign_in`), a POST the user submits. A page opened with
//!   `?token=T` logs nobody in (a link from someone else must not sign the
//!   victim in as them): it answers `303 See Other` to the sign-in form,
//!   without the token, and sets no cookie. The API's read routes (the raw
//!   log and its stream included) accept the cookie too.
//! - A write token in the cookie shows the lane buttons. They are plain HTML
//!   forms posting to the lane action routes with a `csrf` field: a value
//!   derived from the token ([`csrf_for`]) that another site cannot know.
//!   Such a post needs the cookie, that field, and an `Origin` (when the
//!   browser sends one) of this server; SameSite=Strict already keeps the
//!   cookie off other sites' requests. Every other write still needs the
//!   `Authorization` header.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::auth::{COOKIE, cookie_token, role_of};
use crate::db::Role;
use crate::error::ApiError;
use crate::links::Prefix;
use crate::state::AppState;

/// The form field value that proves a post came from a page this server
/// rendered for the holder of `token`.
pub(crate) fn csrf_for(token: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"pika-news page form\0");
    h.update(token.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// Someone allowed to read the pages; when their cookie holds a write
/// token, what their lane forms carry (and so whether they see the buttons).
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    /// The `csrf` field for lane forms, when the viewer may post them.
    pub csrf: Option<String>,
    /// The prefix the page was asked for under: its links stay under it.
    pub prefix: Prefix,
}

/// The page cookie holding `token`: HttpOnly (no script reads it),
/// SameSite=Strict (no other site's request carries it), and Secure (sent
/// over https only) when the server's public address is https.
pub(crate) fn session_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{secure}")
}

/// The page cookie emptied and expired at once: what signing out sets.
pub(crate) fn cleared_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}")
}

/// The page a `?token=` request asked for: the same path and query,
/// without the token.
fn without_token(parts: &Parts) -> String {
    let rest: Vec<&str> = parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("token=") && *kv != "token")
        .collect();
    let path = parts.uri.path();
    if rest.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", rest.join("&"))
    }
}

/// Whether the query has a `token` parameter.
fn has_query_token(parts: &Parts) -> bool {
    parts.uri.query().is_some_and(|q| {
        q.split('&')
            .any(|kv| kv == "token" || kv.starts_with("token="))
    })
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    /// Checks the caller before anything of the path is looked at: a page
    /// never says whether a branch exists to someone who may not read it.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if has_query_token(parts) {
            // No login by link: the token leaves the address, and the user
            // signs in (or not) through the form.
            let prefix = Prefix::of_path(parts.uri.path());
            let back = local_page(Some(&without_token(parts)), prefix);
            return Err(Redirect::to(&prefix.sign_in_address(&back)).into_response());
        }
        let has_header = parts.headers.contains_key(header::AUTHORIZATION);
        let cookie = (!has_header).then(|| cookie_token(parts)).flatten();
        let role = match cookie {
            Some(token) => Some(
                state
                    .db
                    .token_role(token)
                    .await
                    .map_err(|e| ApiError::from(e).into_response())?
                    .ok_or_else(|| ApiError::Unauthorized.into_response())?,
            ),
            None => role_of(parts, state)
                .await
                .map_err(IntoResponse::into_response)?,
        };
        crate::auth::Access::Read
            .check(role, state.public_read)
            .map_err(IntoResponse::into_response)?;
        let csrf = match (cookie, role) {
            (Some(token), Some(r)) if r >= Role::Write => Some(csrf_for(token)),
            _ => None,
        };
        Ok(Self {
            csrf,
            prefix: Prefix::of_path(parts.uri.path()),
        })
    }
}

/// How a write was authorized.
#[derive(Debug, Clone)]
pub(crate) enum Writer {
    /// The `Authorization` header: answer JSON.
    Api,
    /// A page form (cookie and `csrf`): answer by sending the browser back.
    Form {
        /// Where to: a page of this server.
        back: String,
    },
}

/// Whether a browser says the request came from another site.
pub(crate) fn cross_site(headers: &HeaderMap) -> bool {
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site" || v == "same-site")
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let bare = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or("");
    bare.is_empty() || bare != host
}

/// A page of this server to go back to, or the CI overview under `prefix`.
pub(crate) fn local_page(back: Option<&String>, prefix: Prefix) -> String {
    match back {
        Some(b)
            if (b.starts_with("/news/") || b.starts_with("/git/"))
                && !b.contains("//")
                && !b.contains('\\')
                && !b.chars().any(char::is_control)
                && b.len() <= 1024 =>
        {
            b.clone()
        }
        _ => prefix.ci(),
    }
}

/// Authorizes a write: the bearer header (the API), or a page form with the
/// cookie and its `csrf` field. Reads the body of a form, so it comes last.
pub(crate) async fn writer(
    request: Request,
    state: &AppState,
) -> Result<(Parts, Writer), ApiError> {
    let (parts, body) = request.into_parts();
    if parts.headers.contains_key(header::AUTHORIZATION) {
        let role = role_of(&parts, state).await?;
        crate::auth::Access::Write.check(role, state.public_read)?;
        return Ok((parts, Writer::Api));
    }
    let Some(token) = cookie_token(&parts).map(str::to_owned) else {
        return Err(ApiError::Unauthorized);
    };
    if cross_site(&parts.headers) {
        return Err(ApiError::Forbidden(Role::Write));
    }
    let form_request = Request::from_parts(parts.clone(), body);
    let axum::Form(fields) =
        axum::Form::<std::collections::HashMap<String, String>>::from_request(form_request, state)
            .await
            .map_err(|_| ApiError::Unauthorized)?;
    let role = state
        .db
        .token_role(&token)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let expected = csrf_for(&token);
    let presented = fields.get("csrf").map(String::as_str).unwrap_or("");
    if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(ApiError::Unauthorized);
    }
    crate::auth::Access::Write.check(Some(role), state.public_read)?;
    let back = local_page(fields.get("back"), Prefix::of_path(parts.uri.path()));
    Ok((parts, Writer::Form { back }))
}

/// The answer to a form post: back to the page it came from.
pub(crate) fn back_to(back: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, back.to_owned())]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_values_depend_on_the_token() {
        assert_eq!(csrf_for("a"), csrf_for("a"));
        assert_ne!(csrf_for("a"), csrf_for("b"));
        assert_eq!(csrf_for("a").len(), 32);
    }

    #[test]
    fn only_local_pages_are_gone_back_to() {
        let page = |s: &str| local_page(Some(&s.to_owned()), Prefix::News);
        assert_eq!(page("/news/branch/1/ci"), "/news/branch/1/ci");
        assert_eq!(page("/git/branch/1/ci"), "/git/branch/1/ci");
        for bad in [
            "/gitx/branch",
            "//evil.example/news/",
            "https://evil.example/",
            "/news//x",
            "/other",
            "/news/\\x",
            "/news/\nx",
        ] {
            assert_eq!(page(bad), "/news/ci", "{bad:?}");
        }
        assert_eq!(local_page(None, Prefix::News), "/news/ci");
        assert_eq!(local_page(None, Prefix::Git), "/git/ci");
        assert_eq!(
            page("/git/x"),
            "/git/x",
            "a page under the other prefix is kept"
        );
    }

    #[test]
    fn cross_site_posts_are_recognised() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8787".parse().unwrap());
        assert!(!cross_site(&h));
        h.insert(header::ORIGIN, "http://127.0.0.1:8787".parse().unwrap());
        assert!(!cross_site(&h));
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(cross_site(&h));
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(cross_site(&h));
        let mut h2 = HeaderMap::new();
        h2.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(cross_site(&h2));
    }
}

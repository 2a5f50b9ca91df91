//! Signing in: the only way a browser gets the page cookie.
//!
//! `GET /news/sign-in?back=PAGE` shows a form with one password field; the
//! user pastes a token and submits it, and `POST /news/sign-in` checks the
//! token and answers `303` to `PAGE` with the cookie set. Nothing else sets
//! the cookie: a link (`?token=`) leads to this form and logs nobody in, so
//! a link from someone else cannot sign a victim in as them. The post is
//! refused when the browser says it comes from another site (`Origin`,
//! `Sec-Fetch-Site`): another site's page cannot post a form here on the
//! victim's behalf either.
//!
//! A browser holding the cookie sees a "Sign out" button on the form:
//! `POST /news/sign-out` (refused from another site too) expires the cookie
//! and answers `303` to the form.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use maud::html;

use super::html::{Crumb, Page};
use crate::auth::cookie_token;
use crate::error::ApiError;
use crate::links::Prefix;
use crate::session::{cleared_cookie, cross_site, local_page, session_cookie};
use crate::state::AppState;

/// The longest token accepted from the form.
const MAX_TOKEN: usize = 256;

/// `?back=`: the page to go on to once signed in.
#[derive(Debug, Deserialize)]
pub(crate) struct Back {
    back: Option<String>,
}

/// The form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct SignInForm {
    token: String,
    back: Option<String>,
}

/// Why the form is shown again, said above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    /// The page asked for needs a token (none, or one no longer valid).
    Needed,
    /// The submitted token is not valid.
    Refused,
}

impl Problem {
    fn text(self) -> &'static str {
        match self {
            Self::Needed => {
                "Sign in to see this page: it needs a token, and this browser has none that is valid."
            }
            Self::Refused => "That token is not valid.",
        }
    }
}

/// The form page; `problem` is said above the form, where a screen reader
/// announces it. `holds_cookie`: the browser sent the page cookie, so it is
/// offered a way to forget it.
fn form_page(prefix: Prefix, back: &str, problem: Option<Problem>, holds_cookie: bool) -> Page {
    Page {
        prefix,
        title: "Sign in · pika-news".to_owned(),
        crumbs: vec![Crumb::here("Sign in")],
        body: html! {
            h1 { "Sign in" }
            @if let Some(p) = problem { p.problem role="alert" { (p.text()) } }
            form method="post" action=(prefix.sign_in()) class="sign-in" {
                label for="token" { "Token" }
                input #token type="password" name="token" autocomplete="current-password"
                    required autofocus maxlength=(MAX_TOKEN) aria-describedby="token-help";
                input type="hidden" name="back" value=(back);
                button type="submit" { "Sign in" }
            }
            @if holds_cookie {
                form method="post" action=(prefix.sign_out()) class="sign-out" {
                    "This browser holds a sign-in. "
                    button type="submit" { "Sign out" }
                }
            }
            div #token-help .help {
                p {
                    "Paste a pika-news token. An operator makes one on the CI host with "
                    code { "pika-news token create --name NAME --role read" } "."
                }
                p {
                    "With a Nostr key: " code { "ph login" }
                    " signs a challenge with your key and gets a token for it, kept in "
                    code { "~/.local/state/ph/session.json" } " (its " code { "token" }
                    " field); paste that token here."
                }
                p {
                    "Signing in keeps the token in a cookie of this browser (HttpOnly, sent to "
                    "this server only). A link with a token in it signs nobody in."
                }
            }
        },
        active: false,
    }
}

/// The form, answered `401` to a page request without a valid token, going
/// back to `back` (a page of this server) once signed in.
pub(crate) fn needed(prefix: Prefix, back: &str) -> Response {
    let mut resp = form_page(prefix, back, Some(Problem::Needed), false).into_response();
    *resp.status_mut() = StatusCode::UNAUTHORIZED;
    resp
}

/// `GET /news/sign-in`: the form.
pub(crate) async fn form(
    prefix: Prefix,
    parts: axum::http::request::Parts,
    query: Query<Back>,
) -> Response {
    let holds_cookie = cookie_token(&parts).is_some();
    form_page(
        prefix,
        &local_page(query.back.as_ref(), prefix),
        None,
        holds_cookie,
    )
    .into_response()
}

/// `POST /news/sign-out`: expires the page cookie, then the form.
pub(crate) async fn sign_out(
    prefix: Prefix,
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if cross_site(&headers) {
        return Err(ApiError::CrossSite);
    }
    let cookie = cleared_cookie(state.secure_cookies)
        .parse()
        .map_err(|_| ApiError::Internal("the cookie could not be cleared".into()))?;
    let mut resp = (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, prefix.sign_in())],
    )
        .into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(resp)
}

/// `POST /news/sign-in`: exchanges the submitted token for the cookie.
pub(crate) async fn submit(
    prefix: Prefix,
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SignInForm>,
) -> Result<Response, ApiError> {
    if cross_site(&headers) {
        return Err(ApiError::CrossSite);
    }
    let back = local_page(form.back.as_ref(), prefix);
    let token = form.token.trim();
    let well_formed = !token.is_empty()
        && token.len() <= MAX_TOKEN
        && token.bytes().all(|b| b.is_ascii_graphic())
        && !token.contains(';');
    let known = well_formed && state.db.token_role(token).await?.is_some();
    if !known {
        let mut resp = form_page(prefix, &back, Some(Problem::Refused), false).into_response();
        *resp.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(resp);
    }
    let cookie = session_cookie(token, state.secure_cookies)
        .parse()
        .map_err(|_| ApiError::Unauthorized)?;
    let mut resp = (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response();
    resp.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(resp)
}

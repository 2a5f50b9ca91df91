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

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::format::escape;
use super::html::Page;
use super::session::{cross_site, local_page, session_cookie};
use crate::error::ApiError;
use crate::state::AppState;

use crate::links::SIGN_IN;

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

/// The form page; `problem` is said above the form (a refused token).
fn form_page(back: &str, problem: Option<&str>) -> Page {
    let problem = problem.map_or_else(String::new, |p| {
        format!("<p class=problem role=alert>{}</p>", escape(p))
    });
    Page {
        title: "Sign in · pika-news".to_owned(),
        crumbs: vec![(None, "Sign in".to_owned())],
        body: format!(
            "<h1>Sign in</h1>{problem}\
             <form method=post action=\"{SIGN_IN}\" class=sign-in>\
             <label>Token <input type=password name=token autocomplete=current-password required maxlength={MAX_TOKEN}></label>\
             <input type=hidden name=back value=\"{back}\">\
             <button type=submit>Sign in</button></form>\
             <p>A token is made on the CI host with <code>pika-news token create</code>. \
             Signing in keeps it in a cookie of this browser.</p>",
            back = escape(back),
        ),
        active: false,
    }
}

/// `GET /news/sign-in`: the form.
pub(crate) async fn form(query: Query<Back>) -> Response {
    form_page(&local_page(query.back.as_ref()), None).into_response()
}

/// `POST /news/sign-in`: exchanges the submitted token for the cookie.
pub(crate) async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<SignInForm>,
) -> Result<Response, ApiError> {
    if cross_site(&headers) {
        return Err(ApiError::CrossSite);
    }
    let back = local_page(form.back.as_ref());
    let token = form.token.trim();
    let well_formed = !token.is_empty()
        && token.len() <= MAX_TOKEN
        && token.bytes().all(|b| b.is_ascii_graphic())
        && !token.contains(';');
    let known = well_formed && state.db.token_role(token).await?.is_some();
    if !known {
        let mut resp = form_page(&back, Some("That token is not valid.")).into_response();
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

#[cfg(test)]
mod tests {
    use crate::links::sign_in_address;

    #[test]
    fn the_back_page_is_encoded_for_the_query() {
        assert_eq!(
            sign_in_address("/news/branch/1/ci/lane/2?job=a&kind=host"),
            "/news/sign-in?back=/news/branch/1/ci/lane/2%3Fjob%3Da%26kind%3Dhost"
        );
    }
}

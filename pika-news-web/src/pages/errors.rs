//! Errors answered to a page request as pages: a browser that mistypes an
//! address, follows a stale link or has no cookie gets HTML with the
//! breadcrumbs and a way on, never raw JSON. Which requests are pages is
//! `links::page_request` (by route family), and a browser's form post
//! outside the API ([`browser_form_post`]: the branch page's Merge and
//! Close, the Re-run button), whose routes `ph` also posts to with JSON;
//! everything else, the whole `{prefix}/api/` included, keeps its JSON
//! errors.
//!
//! [`PageErrorsLayer`] sits outside every other layer, where each error is
//! already `{"error": "..."}` (the handlers' `ApiError`, axum's rejections
//! rewritten by the API's JSON layer): for a page request it reads that
//! message and answers the same status as a page. A `401` is the sign-in
//! form, going back to the page asked for. Like the JSON layer, it boxes a
//! future only for an error it rewrites.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::Request;
use axum::http::{HeaderName, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use maud::html;

use super::html::{Crumb, Page};
use super::sign_in;
use crate::error::ErrorBody;
use crate::links::{Prefix, page_request};
use crate::session::local_page;

/// The longest JSON error body read for its message.
const MAX_ERROR_BODY: usize = 16 * 1024;

/// The headers of the JSON answer a page keeps: what they say still holds.
const KEPT: [HeaderName; 3] = [header::WWW_AUTHENTICATE, header::RETRY_AFTER, header::ALLOW];

/// What a page request asked for: where its links go, the address asked,
/// and the page to go back to after signing in (the address itself, or for
/// a form post the page the form was on).
#[derive(Debug, Clone)]
struct Asked {
    prefix: Prefix,
    uri: Uri,
    back: Option<String>,
}

/// Whether `request` is a browser's form post outside the API (form
/// fields, HTML accepted), and under which prefix. `ph` posts JSON to the
/// same routes and keeps JSON errors.
fn browser_form_post(request: &Request) -> Option<Prefix> {
    if request.method() != Method::POST {
        return None;
    }
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let form = header(header::CONTENT_TYPE).starts_with("application/x-www-form-urlencoded");
    if !form || !header(header::ACCEPT).contains("text/html") {
        return None;
    }
    let path = request.uri().path();
    let prefix = Prefix::of_path(path);
    let rest = path.strip_prefix(prefix.as_str())?;
    let first = rest.trim_start_matches('/').split('/').next().unwrap_or("");
    (rest.starts_with('/') && first != "api" && first != "auth").then_some(prefix)
}

/// The page a form was posted from, when the browser said (`Referer`, its
/// path and query only; checked to be a local page where it is used).
fn posted_from(request: &Request) -> Option<String> {
    let referer = request.headers().get(header::REFERER)?.to_str().ok()?;
    let uri: Uri = referer.parse().ok()?;
    uri.path_and_query().map(|pq| pq.as_str().to_owned())
}

/// The page for an error `status` with `message`, for a request of `uri`
/// under `prefix`; signing in goes back to `back`, else to `uri`.
fn error_page(
    prefix: Prefix,
    status: StatusCode,
    message: &str,
    uri: &Uri,
    back: Option<&str>,
) -> Response {
    let here = back.map(str::to_owned).unwrap_or_else(|| {
        uri.path_and_query()
            .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned())
    });
    if status == StatusCode::UNAUTHORIZED {
        return sign_in::needed(prefix, &local_page(Some(&here), prefix));
    }
    let (heading, advice) = match status {
        StatusCode::NOT_FOUND => (
            "Page not found",
            "Nothing is at this address: it may be mistyped, or the branch, run or lane it \
             named is gone.",
        ),
        StatusCode::FORBIDDEN => (
            "Not allowed",
            "You are signed in, but this needs more than your token allows, or the request \
             came from another site.",
        ),
        StatusCode::BAD_REQUEST => (
            "Bad address",
            "Part of this address is not valid: check the link.",
        ),
        StatusCode::SERVICE_UNAVAILABLE => ("Busy", "Try again in a moment."),
        _ => (
            status.canonical_reason().unwrap_or("Error"),
            "The page could not be shown.",
        ),
    };
    let page = Page {
        prefix,
        title: format!("{heading} · pika-news"),
        crumbs: vec![Crumb::here(heading)],
        body: html! {
            h1 { (heading) }
            p.error-status { "Error " (status.as_u16()) ": " (message) }
            p { (advice) }
            p.error-address { "Address: " code { (uri.path()) } }
            ul.error-links {
                @if let Some(back) = back {
                    li { a href=(local_page(Some(&back.to_owned()), prefix)) { "Back to the page you came from" } }
                }
                li { a href=(prefix.ci()) { "The CI overview" } }
                @if status == StatusCode::FORBIDDEN {
                    li {
                        a href=(prefix.sign_in_address(&local_page(Some(&here), prefix))) {
                            "Sign in with another token"
                        }
                    }
                }
            }
        },
        active: false,
    };
    let mut response = page.into_response();
    *response.status_mut() = status;
    response
}

/// An error answer (JSON `{"error"}`) of a page request, answered as a page.
async fn as_page(response: Response, asked: Asked) -> Response {
    let status = response.status();
    let (parts, body) = response.into_parts();
    let message = axum::body::to_bytes(body, MAX_ERROR_BODY)
        .await
        .ok()
        .and_then(|b| serde_json::from_slice::<ErrorBody>(&b).ok())
        .map(|e| e.error)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_lowercase());
    let mut page = error_page(
        asked.prefix,
        status,
        &message,
        &asked.uri,
        asked.back.as_deref(),
    );
    for name in KEPT {
        if let Some(v) = parts.headers.get(&name) {
            page.headers_mut().insert(name, v.clone());
        }
    }
    page
}

/// Whether an answer is an error in JSON (a page's own HTML answer, such as
/// the sign-in form's `401`, passes as it is).
fn json_error(response: &Response) -> bool {
    let status = response.status();
    (status.is_client_error() || status.is_server_error())
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"))
}

/// The layer: the error answers of page requests as pages.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PageErrorsLayer;

impl<S> tower::Layer<S> for PageErrorsLayer {
    type Service = PageErrors<S>;

    fn layer(&self, inner: S) -> PageErrors<S> {
        PageErrors(inner)
    }
}

/// A service whose page requests' JSON errors are answered as pages.
#[derive(Debug, Clone)]
pub(crate) struct PageErrors<S>(S);

type Answer = Result<Response, Infallible>;

impl<S> tower::Service<Request> for PageErrors<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Checked<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let asked = match page_request(request.method(), request.uri().path()) {
            Some(prefix) => Some(Asked {
                prefix,
                uri: request.uri().clone(),
                back: None,
            }),
            None => browser_form_post(&request).map(|prefix| Asked {
                prefix,
                uri: request.uri().clone(),
                back: Some(posted_from(&request).unwrap_or_else(|| prefix.ci())),
            }),
        };
        Checked {
            inner: self.0.call(request),
            asked,
            rewriting: None,
        }
    }
}

pin_project_lite::pin_project! {
    /// The wrapped service's answer, as it is, or as a page once it is a
    /// JSON error of a page request.
    pub(crate) struct Checked<F> {
        #[pin]
        inner: F,
        asked: Option<Asked>,
        rewriting: Option<BoxFuture<'static, Response>>,
    }
}

impl<F: Future<Output = Answer>> Future for Checked<F> {
    type Output = Answer;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Answer> {
        let this = self.project();
        if this.rewriting.is_none() {
            let Ok(response) = ready!(this.inner.poll(cx));
            if this.asked.is_none() || !json_error(&response) {
                return Poll::Ready(Ok(response));
            }
            let Some(asked) = this.asked.take() else {
                return Poll::Ready(Ok(response));
            };
            *this.rewriting = Some(Box::pin(as_page(response, asked)));
        }
        match this.rewriting.as_mut() {
            Some(rewriting) => rewriting.as_mut().poll(cx).map(Ok),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(path: &str, headers: &[(&str, &str)]) -> Request {
        let mut request = axum::http::Request::builder()
            .method(Method::POST)
            .uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn only_a_browsers_form_post_outside_the_api_is_a_page() {
        let form = ("content-type", "application/x-www-form-urlencoded");
        let html = ("accept", "text/html,*/*;q=0.8");
        assert_eq!(
            browser_form_post(&post("/git/branch/7/merge", &[form, html])),
            Some(Prefix::Git)
        );
        assert_eq!(
            browser_form_post(&post("/news/branch/7/ci/rerun", &[form, html])),
            Some(Prefix::News)
        );
        for (path, headers) in [
            ("/git/api/branch/7/merge", &[form, html][..]),
            ("/git/auth/token", &[form, html][..]),
            ("/git/branch/7/merge", &[form][..]),
            (
                "/git/branch/7/merge",
                &[("content-type", "application/json"), html][..],
            ),
        ] {
            assert_eq!(
                browser_form_post(&post(path, headers)),
                None,
                "{path} {headers:?}"
            );
        }
        let mut get = post("/git/branch/7/merge", &[form, html]);
        *get.method_mut() = Method::GET;
        assert_eq!(browser_form_post(&get), None);
    }

    async fn body(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_page_error_keeps_its_status_message_and_headers_and_escapes_them() {
        let json = (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            axum::Json(ErrorBody {
                error: "busy <b>now</b>".into(),
            }),
        )
            .into_response();
        let uri = Uri::from_static("/git/nope");
        let page = as_page(
            json,
            Asked {
                prefix: Prefix::Git,
                uri,
                back: None,
            },
        )
        .await;
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(page.headers()[header::RETRY_AFTER], "1");
        assert!(
            page.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let html = body(page).await;
        assert!(html.contains("busy &lt;b&gt;now&lt;/b&gt;"), "{html}");
        assert!(html.contains("href=\"/git/ci\""), "{html}");
    }

    #[tokio::test]
    async fn an_unauthorized_page_is_the_sign_in_form_going_back_to_it() {
        let uri = Uri::from_static("/news/branch/1/ci?job=a");
        let page = error_page(Prefix::News, StatusCode::UNAUTHORIZED, "x", &uri, None);
        assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
        let html = body(page).await;
        assert!(
            html.contains("name=\"back\" value=\"/news/branch/1/ci?job=a\""),
            "{html}"
        );
        assert!(html.contains("action=\"/news/sign-in\""), "{html}");
    }
}

//! Every error answer is `{"error": "..."}`, including the ones axum makes
//! itself before a handler runs: a method a known path does not take (405,
//! empty by default), a path or query that does not decode (plain text).
//! The status and headers (`Allow`, `Retry-After`, ...) are kept; a short
//! plain-text reason becomes the message. JSON and HTML answers pass as they are.
//!
//! A tower layer rather than `axum::middleware::from_fn`: an answer that
//! needs no rewriting (every successful read) passes through without a
//! boxed future or a boxed copy of the router per request; only an error
//! answer to rewrite is boxed, to read its body.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;

use crate::api::dto::ErrorBody;

/// The longest plain-text reason kept as the message.
const MAX_REASON: usize = 1024;

/// Whether an error answer is one of axum's own: no body type, or plain
/// text. JSON is already right; an HTML page says what it means to a reader.
fn is_bare(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"))
}

/// The layer: every error answer of the service it wraps as JSON.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct JsonErrorsLayer;

impl<S> tower::Layer<S> for JsonErrorsLayer {
    type Service = JsonErrors<S>;

    fn layer(&self, inner: S) -> JsonErrors<S> {
        JsonErrors(inner)
    }
}

/// A service whose non-JSON error answers are rewritten as JSON.
#[derive(Debug, Clone)]
pub(crate) struct JsonErrors<S>(S);

type Answer = Result<Response, Infallible>;

impl<S> tower::Service<Request> for JsonErrors<S>
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
        // What a 405 names: the method and path asked for (never the
        // query). Both clones share the request's bytes: no allocation.
        let asked = (request.method().clone(), request.uri().clone());
        Checked {
            inner: self.0.call(request),
            asked: Some(asked),
            rewriting: None,
        }
    }
}

pin_project_lite::pin_project! {
    /// The wrapped service's answer, as it is, or its rewriting once it is
    /// a bare error (only then is a future boxed, to read its body).
    pub(crate) struct Checked<F> {
        #[pin]
        inner: F,
        asked: Option<(Method, Uri)>,
        rewriting: Option<BoxFuture<'static, Response>>,
    }
}

impl<F: Future<Output = Answer>> Future for Checked<F> {
    type Output = Answer;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Answer> {
        let this = self.project();
        if this.rewriting.is_none() {
            let Ok(response) = ready!(this.inner.poll(cx));
            let status = response.status();
            if !(status.is_client_error() || status.is_server_error()) || !is_bare(&response) {
                return Poll::Ready(Ok(response));
            }
            let asked = this.asked.take();
            *this.rewriting = Some(Box::pin(as_json(response, asked)));
        }
        match this.rewriting.as_mut() {
            Some(rewriting) => rewriting.as_mut().poll(cx).map(Ok),
            None => Poll::Pending,
        }
    }
}

/// A bare error answer rewritten as JSON.
async fn as_json(response: Response, asked: Option<(Method, Uri)>) -> Response {
    let status = response.status();
    let (mut parts, body) = response.into_parts();
    let plain = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    let reason = if plain {
        axum::body::to_bytes(body, MAX_REASON)
            .await
            .ok()
            .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
            .filter(|t| !t.is_empty())
    } else {
        None
    };
    let error = match reason {
        Some(r) => r,
        None if status == axum::http::StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.split(',').map(str::trim).collect::<Vec<_>>().join(", "))
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "other methods".to_owned());
            match asked {
                Some((method, uri)) => format!(
                    "method not allowed: {method} {} takes {allowed}",
                    uri.path()
                ),
                None => format!("method not allowed: this route takes {allowed}"),
            }
        }
        None => status.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let bytes = serde_json::to_vec(&ErrorBody { error }).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(bytes)).into_response()
}

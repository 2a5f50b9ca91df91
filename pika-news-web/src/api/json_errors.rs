//! Every error answer is `{"error": "..."}`, including the ones axum makes
//! itself before a handler runs: a method a known path does not take (405,
//! empty by default), a path or query that does not decode (plain text).
//! The status and headers (`Allow`, `Retry-After`, ...) are kept; a short
//! plain-text reason becomes the message. JSON and HTML answers pass as they are.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

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

/// The middleware: rewrites a non-JSON error answer as JSON.
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    // What a 405 names: the method and path asked for (never the query).
    // Both clones share the request's bytes: no allocation per request.
    let (method, uri) = (request.method().clone(), request.uri().clone());
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || !is_bare(&response) {
        return response;
    }
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
            format!(
                "method not allowed: {method} {} takes {allowed}",
                uri.path()
            )
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

//! JSON answers, and the body that keeps a heavy-read permit
//! ([`HeavyReads`](crate::reads::HeavyReads)) until its last byte is handed
//! to the connection, so memory per request stays bounded.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use serde::Serialize;

use crate::error::ApiError;
use crate::reads::HeavyPermit;

/// The body is handed to the connection in pieces of this size, so the
/// permit is released only when the whole answer has left.
const PIECE: usize = 64 * 1024;

/// `value` as a JSON answer. With a permit, the body keeps it until sent.
pub(crate) fn json_answer<T: Serialize>(
    value: &T,
    permit: Option<HeavyPermit>,
    size_hint: usize,
) -> Result<Response, ApiError> {
    let mut bytes = Vec::with_capacity(size_hint.saturating_add(512));
    serde_json::to_writer(&mut bytes, value)
        .map_err(|e| ApiError::Internal(format!("encoding the answer failed: {e}")))?;
    Ok(bytes_answer(Bytes::from(bytes), permit))
}

/// JSON already encoded as an answer. With a permit, the body keeps it until sent.
pub(crate) fn bytes_answer(bytes: Bytes, permit: Option<HeavyPermit>) -> Response {
    let body = match permit {
        Some(permit) => Body::new(PermitBody {
            rest: bytes,
            _permit: permit,
        }),
        None => Body::from(bytes),
    };
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An answer's bytes, handed out in pieces, and the permit it was made under.
struct PermitBody {
    rest: Bytes,
    _permit: HeavyPermit,
}

impl http_body::Body for PermitBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.rest.is_empty() {
            return Poll::Ready(None);
        }
        let n = this.rest.len().min(PIECE);
        Poll::Ready(Some(Ok(Frame::data(this.rest.split_to(n)))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.rest.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use std::time::Duration;

    use super::*;
    use crate::reads::HeavyReads;

    #[tokio::test(start_paused = true)]
    async fn a_permit_is_held_until_the_answer_is_sent_then_others_wait_or_get_503() {
        let heavy = HeavyReads::new(1, Duration::from_secs(2));
        let permit = heavy.acquire().await.unwrap();
        let answer = json_answer(&"x".repeat(200_000), Some(permit), 200_002).unwrap();
        assert!(matches!(
            heavy.acquire().await,
            Err(crate::reads::ReadError::Busy)
        ));
        let bytes = answer.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(bytes.len(), 200_002);
        let _again = heavy.acquire().await.expect("free again once sent");
    }
}

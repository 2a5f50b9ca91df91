//! Bounded memory per request: [`HeavyReads`] limits how many large reads
//! (whole logs, large records) are in memory at once, and an answer made
//! under a permit keeps it until its last byte is handed to the connection.
//!
//! A request that finds every permit taken waits up to
//! [`HeavyReads::DEFAULT_WAIT`] for one, then gets `503` with `Retry-After`:
//! waiting briefly smooths bursts; answering later keeps queued requests
//! (and their sockets) from piling up behind a slow disk.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::byte_budget::ByteBudget;
use crate::error::ApiError;

/// The body is handed to the connection in pieces of this size, so the
/// permit is released only when the whole answer has left.
const PIECE: usize = 64 * 1024;

/// How many bytes one read of a streamed download takes (`file_body`):
/// large, so a 1 GiB log costs few hops to the blocking pool, small enough
/// that a download's memory stays bounded; the download budget is counted in
/// them.
pub(crate) const DOWNLOAD_PIECE: usize = 512 * 1024;

/// A permit for one heavy read.
pub(crate) type HeavyPermit = OwnedSemaphorePermit;

/// How many heavy reads run at once, and how long a request waits for one;
/// and the bytes every streamed download together may hold in memory.
#[derive(Debug, Clone)]
pub struct HeavyReads {
    permits: Arc<Semaphore>,
    wait: Duration,
    download_bytes: ByteBudget,
}

impl Default for HeavyReads {
    fn default() -> Self {
        Self::new(Self::DEFAULT_PERMITS, Self::DEFAULT_WAIT)
    }
}

impl HeavyReads {
    /// Heavy reads at once by default: each answer holds at most
    /// [`ANSWER_BUDGET`](super::encoded::ANSWER_BUDGET) of encoded text plus
    /// the bytes it was read from, so this keeps them under ~100 MiB.
    pub const DEFAULT_PERMITS: usize = 4;
    /// How long a request waits for a permit by default.
    pub const DEFAULT_WAIT: Duration = Duration::from_secs(10);

    /// Bytes all streamed downloads together hold at once by default (what
    /// was read and not yet handed to the socket): a thousand clients that
    /// read nothing cost this much, not a thousand times a piece.
    pub const DEFAULT_DOWNLOAD_BYTES: usize = 64 << 20;

    /// `permits` heavy reads at once (at least 1); a request waits `wait` for one.
    pub fn new(permits: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(permits.max(1))),
            wait,
            download_bytes: ByteBudget::new(Self::DEFAULT_DOWNLOAD_BYTES),
        }
    }

    /// The same, with downloads holding at most `bytes` together (at
    /// least one download piece, so a download can always go on).
    pub fn with_download_bytes(mut self, bytes: usize) -> Self {
        let least = DOWNLOAD_PIECE;
        self.download_bytes = ByteBudget::new(bytes.max(least));
        self
    }

    /// The budget streamed downloads take their pieces from.
    pub(crate) fn download_budget(&self) -> ByteBudget {
        self.download_bytes.clone()
    }

    /// A permit, waiting for one at most the configured time.
    pub(crate) async fn acquire(&self) -> Result<HeavyPermit, ApiError> {
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) | Err(_) => Err(ApiError::Busy),
        }
    }
}

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

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_permit_is_held_until_the_answer_is_sent_then_others_wait_or_get_503() {
        let heavy = HeavyReads::new(1, Duration::from_secs(2));
        let permit = heavy.acquire().await.unwrap();
        let answer = json_answer(&"x".repeat(200_000), Some(permit), 200_002).unwrap();
        assert!(matches!(heavy.acquire().await, Err(ApiError::Busy)));
        let bytes = answer.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(bytes.len(), 200_002);
        let _again = heavy.acquire().await.expect("free again once sent");
    }
}

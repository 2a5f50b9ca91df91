//! [`ByteBudget`]: bytes in memory shared by every streamed download.

use std::sync::Arc;

use axum::body::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes in memory shared by every streamed download: a piece is read only
/// once its size is taken from the budget, and gives it back when the
/// connection has sent it (the bytes are dropped).
#[derive(Debug, Clone)]
pub(crate) struct ByteBudget(Arc<Semaphore>);

impl ByteBudget {
    /// A budget of `bytes`.
    pub(crate) fn new(bytes: usize) -> Self {
        Self(Arc::new(Semaphore::new(bytes)))
    }

    /// Waits until `n` bytes are free (however long: a download already
    /// answering cannot turn into a 503), then takes them.
    pub(crate) async fn take(&self, n: usize) -> Option<OwnedSemaphorePermit> {
        let n = u32::try_from(n).ok()?;
        self.0.clone().acquire_many_owned(n).await.ok()
    }

    /// `buf` as bytes that give `permit` back when the last of them is dropped.
    pub(crate) fn hold(buf: Vec<u8>, permit: OwnedSemaphorePermit) -> Bytes {
        Bytes::from_owner(Held {
            buf,
            _permit: permit,
        })
    }
}

/// A piece's bytes and the budget they hold.
struct Held {
    buf: Vec<u8>,
    _permit: OwnedSemaphorePermit,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn bytes_hold_their_share_until_the_last_of_them_is_dropped() {
        let budget = ByteBudget::new(10);
        let piece = ByteBudget::hold(vec![1; 6], budget.take(6).await.unwrap());
        let sent = piece.slice(..3);
        drop(piece);
        let waiting = tokio::time::timeout(std::time::Duration::from_secs(1), budget.take(6));
        assert!(waiting.await.is_err(), "6 of 10 bytes are still held");
        drop(sent);
        let again = budget.take(6).await.expect("given back once dropped");
        assert_eq!(budget.0.available_permits(), 4);
        drop(again);
    }
}

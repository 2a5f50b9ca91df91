//! [`HeavyReads`]: how many large reads (whole logs, large records) are in
//! memory at once, and the bytes all streamed downloads together may hold.
//!
//! A request that finds every permit taken waits up to
//! [`HeavyReads::DEFAULT_WAIT`] for one, then is refused ([`ReadError::Busy`],
//! a `503` with `Retry-After`): waiting briefly smooths bursts; answering
//! later keeps queued requests (and their sockets) from piling up behind a
//! slow disk. An answer made under a permit keeps it until its last byte is
//! handed to the connection (the HTTP layer's body holds it).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::byte_budget::ByteBudget;
use super::error::ReadError;

/// How many bytes one read of a streamed download takes: large, so a 1 GiB
/// log costs few hops to the blocking pool, small enough that a download's
/// memory stays bounded; the download budget is counted in them.
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
        self.download_bytes = ByteBudget::new(bytes.max(DOWNLOAD_PIECE));
        self
    }

    /// The budget streamed downloads take their pieces from.
    pub(crate) fn download_budget(&self) -> ByteBudget {
        self.download_bytes.clone()
    }

    /// A permit, waiting for one at most the configured time.
    pub(crate) async fn acquire(&self) -> Result<HeavyPermit, ReadError> {
        match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) | Err(_) => Err(ReadError::Busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_permit_is_waited_for_then_refused_and_free_again_once_dropped() {
        let heavy = HeavyReads::new(1, Duration::from_secs(2));
        let permit = heavy.acquire().await.unwrap();
        assert!(matches!(heavy.acquire().await, Err(ReadError::Busy)));
        drop(permit);
        let _again = heavy.acquire().await.expect("free again once dropped");
    }
}

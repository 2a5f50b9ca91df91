//! [`TailCache`]: small spans of logs the raw route read (a tail, a page of
//! the log viewer), kept while the job's folder is watched and no event has
//! come from it, so the same span asked again (the tail of a failed job that
//! many people open) is answered from memory, without opening the log.
//!
//! The job's folder is watched before the span is read; any change in it (a
//! log that grows, a file replaced, the folder moved or deleted) drops the
//! job's spans when the next request drains the watch. Without a watch
//! nothing is kept. Bounded by entries and bytes; a full cache starts over.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use axum::body::Bytes;
use pikaci_core::{JobId, LogFile, RunId};
use pikaci_store::FileIdentity;

/// At most this many spans are kept.
pub(crate) const MAX_ENTRIES: usize = 256;
/// At most this many bytes of spans are kept.
pub(crate) const MAX_BYTES: usize = 32 << 20;

/// Which log.
pub(crate) type LogKey = (RunId, JobId, LogFile);

/// A span of a log as it was read.
#[derive(Debug, Clone)]
pub(crate) struct Span {
    /// The log's identity when it was read (its size, its `ETag`).
    pub(crate) identity: FileIdentity,
    /// The offset of the first byte.
    pub(crate) start: u64,
    /// The bytes.
    pub(crate) bytes: Bytes,
}

impl Span {
    /// Bytes `start..start + len` of the log, if this span holds them.
    pub(crate) fn slice(&self, start: u64, len: u64) -> Option<Bytes> {
        let from = start.checked_sub(self.start)?;
        let to = from.checked_add(len)?;
        (to <= self.bytes.len() as u64).then(|| self.bytes.slice(from as usize..to as usize))
    }
}

#[derive(Default)]
struct Inner {
    spans: HashMap<LogKey, Span>,
    bytes: usize,
}

/// Spans of logs read before, one per log.
#[derive(Default)]
pub(crate) struct TailCache {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for TailCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("TailCache")
            .field("spans", &inner.spans.len())
            .field("bytes", &inner.bytes)
            .finish()
    }
}

impl TailCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Each change is an insert or remove with its byte count.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many spans are kept.
    pub(crate) fn len(&self) -> usize {
        self.lock().spans.len()
    }

    /// The span kept for `log`, if any.
    pub(crate) fn get(&self, log: &LogKey) -> Option<Span> {
        self.lock().spans.get(log).cloned()
    }

    /// Keeps `span` of `log` (read after its job's folder was watched).
    /// When full the cache starts over: `on_clear` is called (the job
    /// folders' watches go too) and this span is not kept.
    pub(crate) fn put(&self, log: LogKey, span: Span, on_clear: impl FnOnce()) {
        let size = span.bytes.len();
        let mut inner = self.lock();
        if let Some(old) = inner.spans.remove(&log) {
            inner.bytes -= old.bytes.len();
        }
        if inner.spans.len() >= MAX_ENTRIES || inner.bytes + size > MAX_BYTES {
            inner.spans.clear();
            inner.bytes = 0;
            on_clear();
            return;
        }
        inner.bytes += size;
        inner.spans.insert(log, span);
    }

    /// Forgets the spans of a job's logs (something in its folder changed).
    pub(crate) fn remove_job(&self, run: &RunId, job: &JobId) {
        let mut inner = self.lock();
        for file in LogFile::ALL {
            if let Some(old) = inner.spans.remove(&(run.clone(), job.clone(), file)) {
                inner.bytes -= old.bytes.len();
            }
        }
    }

    /// Forgets every span.
    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.spans.clear();
        inner.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(job: &str) -> LogKey {
        (
            "20260324T161238Z-1a2b3c4d".parse().unwrap(),
            job.parse().unwrap(),
            LogFile::Guest,
        )
    }

    #[test]
    fn spans_are_sliced_kept_dropped_and_bounded() {
        let cache = TailCache::default();
        let span = Span {
            identity: FileIdentity::default(),
            start: 100,
            bytes: Bytes::from_static(b"0123456789"),
        };
        assert_eq!(span.slice(102, 3).unwrap(), "234");
        assert_eq!(span.slice(100, 10).unwrap(), "0123456789");
        assert!(span.slice(99, 2).is_none());
        assert!(span.slice(105, 6).is_none());
        cache.put(key("a"), span.clone(), || {});
        assert!(cache.get(&key("a")).is_some());
        let (run, job, _) = key("a");
        cache.remove_job(&run, &job);
        assert!(cache.get(&key("a")).is_none());
        let mut cleared = 0;
        for i in 0..=MAX_ENTRIES {
            cache.put(key(&format!("j{i}")), span.clone(), || cleared += 1);
        }
        assert_eq!(cleared, 1);
        assert!(cache.lock().spans.len() <= MAX_ENTRIES);
    }
}

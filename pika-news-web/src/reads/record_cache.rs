//! [`RecordCache`]: run records already read, parsed and serialized, each
//! valid while its `run.json` is the file it was read from.
//!
//! Two ways to know that: the run's folder is watched (inotify, through the
//! server's `DiskWatch`, set up before the record
//! was read), and an entry stands until an event about its `run.json` or its
//! folder removes it; or, where there is no watch, `run.json` keeps the
//! identity it had when it was read (device, inode, size, modification
//! time; it is only ever replaced by a rename, so a new record is a new
//! file), one `lstat` per use. A hit answers with the bytes serialized
//! before (no read, no parse, no serialization). The cache is bounded by
//! entries and by bytes; a record too large for it is simply not kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use pikaci_core::{RunId, RunRecord};
use pikaci_store::FileIdentity;

/// At most this many records are kept.
pub(crate) const MAX_ENTRIES: usize = 4096;
/// At most this many bytes of serialized records are kept (the parsed
/// records take about as much again).
pub(crate) const MAX_BYTES: usize = 32 << 20;
/// A record serialized larger than this is never kept.
pub(crate) const MAX_ENTRY_BYTES: usize = 1 << 20;

/// A run record, parsed and serialized.
#[derive(Debug, Clone)]
pub(crate) struct Cached {
    /// The record.
    pub(crate) record: Arc<RunRecord>,
    /// The record as the JSON the run route answers with.
    pub(crate) json: Bytes,
}

impl Cached {
    /// Serializes `record` as `Json(record)` would.
    pub(crate) fn new(record: RunRecord) -> Self {
        let json = serde_json::to_vec(&record).expect("a run record always serializes");
        Self {
            record: Arc::new(record),
            json: Bytes::from(json),
        }
    }
}

struct Entry {
    /// `run.json`'s identity when read, if known.
    identity: Option<FileIdentity>,
    /// Whether the run's folder was watched before the record was read.
    watched: bool,
    cached: Cached,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<RunId, Entry>,
    bytes: usize,
}

/// Run records by run, each with the identity of the `run.json` it came from.
#[derive(Default)]
pub(crate) struct RecordCache {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for RecordCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("RecordCache")
            .field("entries", &inner.entries.len())
            .field("bytes", &inner.bytes)
            .finish()
    }
}

impl RecordCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Each change is an insert or remove with its byte count: a panic
        // between them at worst miscounts a bound.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The record of `run` if its folder is watched (the caller has just
    /// drained the watch's events, which remove changed records).
    pub(crate) fn get_watched(&self, run: &RunId) -> Option<Cached> {
        let inner = self.lock();
        let entry = inner.entries.get(run)?;
        entry.watched.then(|| entry.cached.clone())
    }

    /// The record of `run` if it was read from a `run.json` of this identity.
    pub(crate) fn get(&self, run: &RunId, identity: &FileIdentity) -> Option<Cached> {
        let inner = self.lock();
        let entry = inner.entries.get(run)?;
        (entry.identity.as_ref() == Some(identity)).then(|| entry.cached.clone())
    }

    /// Keeps `record`, read after its folder was watched (`watched`) and
    /// from a `run.json` of `identity` (the identity seen before reading it:
    /// a newer file has another identity, so the entry can only be found
    /// while the file is the one read or older). When the cache is full it
    /// starts over: `on_clear` is called (the watches of the records dropped
    /// go too) and this record is kept as not watched.
    pub(crate) fn put(
        &self,
        run: &RunId,
        identity: Option<FileIdentity>,
        watched: bool,
        record: RunRecord,
        on_clear: impl FnOnce(),
    ) -> Cached {
        let cached = Cached::new(record);
        let size = cached.json.len();
        if size > MAX_ENTRY_BYTES || (identity.is_none() && !watched) {
            return cached;
        }
        let mut inner = self.lock();
        if let Some(old) = inner.entries.remove(run) {
            inner.bytes -= old.cached.json.len();
        }
        let mut watched = watched;
        if inner.entries.len() >= MAX_ENTRIES || inner.bytes + size > MAX_BYTES {
            // Full: start over rather than track ages; the next requests
            // fill it again with what is asked for now.
            inner.entries.clear();
            inner.bytes = 0;
            on_clear();
            watched = false;
            if identity.is_none() {
                return cached;
            }
        }
        inner.bytes += size;
        inner.entries.insert(
            run.clone(),
            Entry {
                identity,
                watched,
                cached: cached.clone(),
            },
        );
        cached
    }

    /// Forgets the record of `run` (its `run.json` changed).
    pub(crate) fn remove(&self, run: &RunId) {
        let mut inner = self.lock();
        if let Some(old) = inner.entries.remove(run) {
            inner.bytes -= old.cached.json.len();
        }
    }

    /// Forgets every record.
    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.bytes = 0;
    }

    /// How many records are kept.
    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(ino: u64, size: u64) -> FileIdentity {
        FileIdentity {
            dev: 1,
            ino,
            size,
            mtime_ns: 5,
        }
    }

    #[test]
    fn a_record_is_found_only_with_the_identity_it_was_read_at() {
        let cache = RecordCache::default();
        let record = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        let run = record.run_id.clone();
        let put = cache.put(&run, Some(id(7, 100)), false, record.clone(), || {});
        assert_eq!(put.json, serde_json::to_vec(&record).unwrap());
        assert_eq!(*cache.get(&run, &id(7, 100)).unwrap().record, record);
        assert!(cache.get(&run, &id(8, 100)).is_none(), "replaced");
        assert!(cache.get(&run, &id(7, 101)).is_none(), "grown");
        assert!(cache.get_watched(&run).is_none(), "not watched");
        cache.put(&run, Some(id(8, 100)), true, record, || {});
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&run, &id(7, 100)).is_none());
        assert!(cache.get_watched(&run).is_some());
        cache.remove(&run);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn it_stays_within_its_bounds() {
        let cache = RecordCache::default();
        let mut cleared = 0;
        for i in 0..(MAX_ENTRIES + 10) {
            let record = RunRecord::for_test(&format!("20260324T161238Z-{i:08x}"));
            cache.put(
                &record.run_id.clone(),
                Some(id(i as u64, 1)),
                true,
                record,
                || cleared += 1,
            );
        }
        assert!(cache.len() <= MAX_ENTRIES);
        assert_eq!(cleared, 1);
        let inner = cache.lock();
        let counted: usize = inner.entries.values().map(|e| e.cached.json.len()).sum();
        assert_eq!(counted, inner.bytes);
        assert!(inner.bytes <= MAX_BYTES);
    }
}

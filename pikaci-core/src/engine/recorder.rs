//! [`Recorder`]: the run record in memory, saved to the store without
//! rewriting it on every job event.
//!
//! `run.json` is one file replaced atomically (write, fsync, rename), so a
//! save costs time in proportion to the record, which grows with the jobs.
//! Saving on every job start and end made a run of 1,000 quick jobs
//! quadratic. Instead, changes are saved by [`Recorder::flush_periodically`]
//! at most once per interval (the first change after a quiet spell at once),
//! so the saves of a run are bounded by its duration, not its jobs. The
//! first record (`running`, with its owner) and the last are saved at once,
//! before the events that announce them. A crash loses at most the last
//! interval's job events; what is on disk is still a whole `running` record
//! that a reader marks interrupted.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::observer::RunObserver;
use super::seams::RunStore;
use crate::record::RunRecord;

/// How often, at most, a running run's record is rewritten by default.
pub const DEFAULT_RECORD_INTERVAL: Duration = Duration::from_millis(250);

/// The record and how many changes it has had.
struct Current {
    record: RunRecord,
    version: u64,
}

/// Holds the run record, takes in its changes, and saves it: at once for
/// [`save_now`](Self::save_now), at most once per interval otherwise.
/// The first failure to save is reported once as a warning; the run goes on.
pub(crate) struct Recorder<'a, S: RunStore> {
    current: Mutex<Current>,
    /// The version last saved; held while saving, so saves land in order.
    saved: Mutex<u64>,
    changed: tokio::sync::Notify,
    interval: Duration,
    store: &'a S,
    observer: &'a dyn RunObserver,
    warned: AtomicBool,
}

impl<'a, S: RunStore> Recorder<'a, S> {
    pub(crate) fn new(
        record: RunRecord,
        store: &'a S,
        observer: &'a dyn RunObserver,
        interval: Duration,
    ) -> Self {
        Self {
            current: Mutex::new(Current { record, version: 0 }),
            saved: Mutex::new(0),
            changed: tokio::sync::Notify::new(),
            interval,
            store,
            observer,
            warned: AtomicBool::new(false),
        }
    }

    /// Applies `change`; the record is saved by the next periodic flush.
    pub(crate) fn update(&self, change: impl FnOnce(&mut RunRecord)) {
        {
            let mut current = lock(&self.current);
            change(&mut current.record);
            current.version += 1;
        }
        self.changed.notify_one();
    }

    /// Applies `change` and saves the record before returning it.
    pub(crate) fn save_now(&self, change: impl FnOnce(&mut RunRecord)) -> RunRecord {
        let (record, version) = {
            let mut current = lock(&self.current);
            change(&mut current.record);
            current.version += 1;
            (current.record.clone(), current.version)
        };
        self.save(&record, version);
        record
    }

    /// Saves the record if it changed since the last save.
    pub(crate) fn flush(&self) {
        let snapshot = {
            let current = lock(&self.current);
            (current.version > *lock(&self.saved))
                .then(|| (current.record.clone(), current.version))
        };
        if let Some((record, version)) = snapshot {
            self.save(&record, version);
        }
    }

    /// Saves changes as they come, at most once per interval. Never ends:
    /// run it beside the work that makes the changes and drop it after
    /// (a save is never cut short: it happens between two waits).
    pub(crate) async fn flush_periodically(&self) {
        loop {
            self.changed.notified().await;
            self.flush();
            tokio::time::sleep(self.interval).await;
        }
    }

    fn save(&self, record: &RunRecord, version: u64) {
        let mut saved = lock(&self.saved);
        if version <= *saved {
            return;
        }
        match self.store.persist_run_record(record) {
            Ok(()) => *saved = version,
            Err(e) => self.warn_store(&e),
        }
    }

    /// Reports a state-root problem, once per run.
    pub(crate) fn warn_store(&self, e: &dyn std::error::Error) {
        if !self.warned.swap(true, Ordering::SeqCst) {
            let mut msg = format!("the state root cannot be written ({e}");
            let mut source = e.source();
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            msg.push_str("); the jobs still run and their results are reported, but the run record and logs may be incomplete");
            self.observer.warning(&msg);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

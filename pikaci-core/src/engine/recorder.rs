//! [`Recorder`]: the run record in memory, saved on every change.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::observer::RunObserver;
use super::seams::RunStore;
use crate::record::RunRecord;

/// Holds the run record, serialises its updates, and saves it after each one.
/// The first failure to save is reported once as a warning; the run goes on.
pub(crate) struct Recorder<'a, S: RunStore> {
    record: Mutex<RunRecord>,
    store: &'a S,
    observer: &'a dyn RunObserver,
    warned: AtomicBool,
}

impl<'a, S: RunStore> Recorder<'a, S> {
    pub(crate) fn new(record: RunRecord, store: &'a S, observer: &'a dyn RunObserver) -> Self {
        Self {
            record: Mutex::new(record),
            store,
            observer,
            warned: AtomicBool::new(false),
        }
    }

    /// Applies `change` and saves the record; returns a copy of the result.
    pub(crate) fn update(&self, change: impl FnOnce(&mut RunRecord)) -> RunRecord {
        let mut record = self
            .record
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        change(&mut record);
        // Saved under the lock, so writes land in the order of the changes.
        if let Err(e) = self.store.persist_run_record(&record) {
            self.warn_store(&e);
        }
        record.clone()
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

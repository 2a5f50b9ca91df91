//! [`RunObserver`]: who hears about a run while it happens.

use crate::event::LifecycleEvent;

/// Receives a run's lifecycle events in order, and warnings.
///
/// The CLI renders them (human, JSON, JSONL); pika-news reads them from the
/// child's stdout. Observers must not block for long: they are called inline.
pub trait RunObserver: Send + Sync {
    /// A lifecycle event (`run_started`, `job_started`, `job_finished`, `run_finished`).
    fn event(&self, event: &LifecycleEvent);

    /// Something went wrong that does not stop the run (e.g. the state root
    /// cannot be written). Said once per kind of problem.
    fn warning(&self, message: &str) {
        let _ = message;
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl RunObserver for NoObserver {
    fn event(&self, _event: &LifecycleEvent) {}
}

/// Collects events and warnings (for tests and embedding).
#[derive(Debug, Default)]
pub struct CollectingObserver {
    /// Every event, in order.
    pub events: std::sync::Mutex<Vec<LifecycleEvent>>,
    /// Every warning, in order.
    pub warnings: std::sync::Mutex<Vec<String>>,
}

impl CollectingObserver {
    /// The events so far.
    pub fn events(&self) -> Vec<LifecycleEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// The warnings so far.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }
}

impl RunObserver for CollectingObserver {
    fn event(&self, event: &LifecycleEvent) {
        if let Ok(mut e) = self.events.lock() {
            e.push(event.clone());
        }
    }

    fn warning(&self, message: &str) {
        if let Ok(mut w) = self.warnings.lock() {
            w.push(message.to_owned());
        }
    }
}

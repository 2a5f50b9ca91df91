//! The clock seam: [`Clock`] (pikaci's own trait) with the [`SystemClock`],
//! and [`ManualClock`] for tests, which moves only when told to.
//!
//! [`Db`](crate::db::Db) stamps every row it writes with its clock (creation,
//! start and finish times, lease expiry), so a test expires a lease by
//! advancing the clock instead of sleeping or editing rows. The scheduler's
//! timers (poll interval, heartbeats) are tokio's, so tests drive them with
//! `tokio::time::pause()`.

use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

pub use pikaci_core::engine::{Clock, SystemClock};

/// A clock that stands still until [`ManualClock::advance`] or
/// [`ManualClock::set`] moves it. Clones share one time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<Timestamp>>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// Moves the clock on by `by`.
    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now = now.saturating_add(by).unwrap_or(Timestamp::MAX);
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: Timestamp) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let start: Timestamp = "2026-03-24T16:12:38Z".parse().expect("a time");
        let clock = ManualClock::new(start);
        let shared = clock.clone();
        assert_eq!(clock.now(), start);
        shared.advance(SignedDuration::from_secs(61));
        assert_eq!(clock.now().to_string(), "2026-03-24T16:13:39Z");
        clock.set(start);
        assert_eq!(shared.now(), start);
    }
}

//! [`FolderHold`]: a hold on a folder, shared or exclusive, released when
//! dropped. On disk it is an `flock` of the opened folder (so it follows
//! the folder through a rename, and it ends with the process that holds
//! it, however that process ends); in [`MemFs`](crate::MemFs) a count.
//!
//! The store holds a run's folder shared while a rerun runs in that run's
//! kept snapshot; gc takes it exclusively before it deletes the run, and
//! leaves a run it cannot take.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use camino::{Utf8Path, Utf8PathBuf};

/// A hold on a folder; dropping it releases the hold.
pub struct FolderHold(#[expect(dead_code, reason = "held for its Drop")] Box<dyn Send + Sync>);

impl FolderHold {
    /// A hold kept alive by `guard` (released when `guard` is dropped).
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        Self(Box::new(guard))
    }
}

impl std::fmt::Debug for FolderHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FolderHold")
    }
}

/// The error of a hold that someone else's hold excludes.
pub(crate) fn held_elsewhere(path: &Utf8Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::WouldBlock,
        format!("`{path}` is held by another process"),
    )
}

/// Holds in memory: per folder, how many shared holds and whether an
/// exclusive one.
#[derive(Debug, Default, Clone)]
pub(crate) struct MemHolds(Arc<Mutex<HashMap<Utf8PathBuf, (usize, bool)>>>);

impl MemHolds {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Utf8PathBuf, (usize, bool)>> {
        // Each change is one count moved; a panic cannot leave it half-done.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A shared hold, or `WouldBlock` while an exclusive one lives (memory
    /// cannot wait for another thread's drop the way `flock` waits).
    pub(crate) fn shared(&self, path: &Utf8Path) -> io::Result<FolderHold> {
        let mut holds = self.lock();
        let entry = holds.entry(path.to_owned()).or_default();
        if entry.1 {
            return Err(held_elsewhere(path));
        }
        entry.0 += 1;
        Ok(FolderHold::new(MemRelease {
            holds: self.clone(),
            path: path.to_owned(),
            exclusive: false,
        }))
    }

    /// Whether an exclusive hold of `path` lives.
    pub(crate) fn is_exclusive(&self, path: &Utf8Path) -> bool {
        self.lock().get(path).is_some_and(|entry| entry.1)
    }

    /// An exclusive hold, or `WouldBlock` while any other hold lives.
    pub(crate) fn exclusive(&self, path: &Utf8Path) -> io::Result<FolderHold> {
        let mut holds = self.lock();
        let entry = holds.entry(path.to_owned()).or_default();
        if entry.0 > 0 || entry.1 {
            return Err(held_elsewhere(path));
        }
        entry.1 = true;
        Ok(FolderHold::new(MemRelease {
            holds: self.clone(),
            path: path.to_owned(),
            exclusive: true,
        }))
    }
}

struct MemRelease {
    holds: MemHolds,
    path: Utf8PathBuf,
    exclusive: bool,
}

impl Drop for MemRelease {
    fn drop(&mut self) {
        let mut holds = self.holds.lock();
        if let Some(entry) = holds.get_mut(&self.path) {
            if self.exclusive {
                entry.1 = false;
            } else {
                entry.0 = entry.0.saturating_sub(1);
            }
            if *entry == (0, false) {
                holds.remove(&self.path);
            }
        }
    }
}

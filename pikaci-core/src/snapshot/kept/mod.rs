//! Kept snapshots that share what did not change: a run's kept snapshot is
//! a [`Manifest`] naming each file's bytes by hash, and the bytes live once
//! in the state root's [`Objects`] folder, whichever runs keep them.

mod manifest;
mod objects;
mod pending;
mod stat_cache;

pub use manifest::{Entry, MANIFEST_HEADER, Manifest, ManifestError, ObjectId};
pub use objects::{
    Ingested, KeptError, KeptLayout, OBJECTS_CACHE_DIR, OBJECTS_TMP_DIR, Objects, ObjectsHold,
};
pub use pending::PendingObjects;

//! The source copy a run's jobs work in: git facts and the tracked files
//! ([`source`]), the [`Snapshotter`] seam and its [`DiskSnapshotter`], the
//! [`SnapshotPolicy`] that says where a snapshot goes and whether it is kept,
//! and kept snapshots as manifests of content-addressed objects ([`kept`]).
//!
//! Nothing here knows the engine: the engine asks for a snapshot through the
//! [`Snapshotter`].

pub mod kept;
mod kept_disk;
mod snapshotter;
pub mod source;

pub use snapshotter::{DiskSnapshotter, SnapshotPolicy, Snapshotter};
pub(crate) use snapshotter::{OffWorker, Workspace};

//! [`RunRequest`]: everything one run is asked to do.

use std::sync::{Arc, OnceLock};

use camino::Utf8PathBuf;
use tokio_util::sync::CancellationToken;

use super::select::JobSelection;
use crate::ids::RunId;
use crate::snapshot::kept::KeptLayout;
use crate::snapshot::source::GitInfo;

/// What to run: one [`JobSelection`], chosen once by the caller, and how.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The jobs to run (and the target and filters that chose them).
    pub selection: JobSelection,
    /// The repository to run in.
    pub source_root: Utf8PathBuf,
    /// The files the jobs run in: a new snapshot of `source_root` (the
    /// default), or the snapshot an earlier run kept.
    pub source: RunSource,
    /// The run this one re-runs.
    pub rerun_of: Option<RunId>,
    /// How many jobs may run at once (at least 1).
    pub parallelism: usize,
    /// Cancel to stop the run: running jobs are stopped, the rest skipped.
    pub cancel: CancellationToken,
    /// Why it was cancelled, set by whoever cancels (recorded in the run's
    /// `cancel_reason`).
    pub cancel_reason: CancelReason,
    /// The branch to record when the source's git cannot say (a detached
    /// `HEAD`); when set it wins over git's.
    pub branch: Option<String>,
}

/// Why a run was cancelled (`interrupted (SIGINT, Ctrl-C)`), said once by
/// whoever cancels it; clones share it.
#[derive(Debug, Clone, Default)]
pub struct CancelReason(Arc<OnceLock<String>>);

impl CancelReason {
    /// Says why; the first reason given wins.
    pub fn set(&self, reason: impl Into<String>) {
        let _ = self.0.set(reason.into());
    }

    /// The reason, when one was given.
    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

impl RunRequest {
    /// The `selection`, one job at a time, in a new snapshot of `source_root`.
    pub fn new(selection: JobSelection, source_root: impl Into<Utf8PathBuf>) -> Self {
        Self {
            selection,
            source_root: source_root.into(),
            source: RunSource::Fresh,
            rerun_of: None,
            parallelism: 1,
            cancel: CancellationToken::new(),
            cancel_reason: CancelReason::default(),
            branch: None,
        }
    }
}

/// Where the jobs' files come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum RunSource {
    /// A new snapshot of the request's `source_root`, made as the engine's
    /// [`SnapshotPolicy`](crate::snapshot::SnapshotPolicy) says: a run, or a rerun
    /// from the current source.
    #[default]
    Fresh,
    /// The snapshot an earlier run kept: a rerun runs the same bytes as the
    /// run it repeats. Jobs share it read-only and writable jobs get a
    /// private copy in the new run's folder, so the new run never changes
    /// it; it is never removed by the new run.
    Kept(KeptSnapshot),
}

/// An earlier run's kept snapshot and what that run recorded of its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptSnapshot {
    /// The run that made the snapshot (recorded as the new run's `snapshot_of`).
    pub of: RunId,
    /// Where its files are, found through the store's layout (never a path
    /// taken from a record).
    pub files: KeptFiles,
    /// What git said about the source when the snapshot was made (recorded
    /// again, since the bytes are the same).
    pub git: GitInfo,
}

/// Where a kept snapshot's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeptFiles {
    /// A manifest of the shared objects: the rerun makes the snapshot again
    /// in its own folder (checking every object) and removes it at its end.
    Manifest(KeptLayout),
    /// A plain read-only folder (how the previous release kept snapshots):
    /// the rerun runs in it, never changing or removing it.
    Folder(Utf8PathBuf),
}

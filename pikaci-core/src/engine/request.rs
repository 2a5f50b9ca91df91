//! [`RunRequest`]: everything one run is asked to do.

use camino::Utf8PathBuf;
use tokio_util::sync::CancellationToken;

use super::select::JobSelection;
use crate::ids::RunId;

/// What to run: one [`JobSelection`], chosen once by the caller, and how.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The jobs to run (and the target and filters that chose them).
    pub selection: JobSelection,
    /// The repository to run in.
    pub source_root: Utf8PathBuf,
    /// The run this one re-runs.
    pub rerun_of: Option<RunId>,
    /// How many jobs may run at once (at least 1).
    pub parallelism: usize,
    /// Cancel to stop the run: running jobs are stopped, the rest skipped.
    pub cancel: CancellationToken,
}

impl RunRequest {
    /// The `selection`, one job at a time, in `source_root`.
    pub fn new(selection: JobSelection, source_root: impl Into<Utf8PathBuf>) -> Self {
        Self {
            selection,
            source_root: source_root.into(),
            rerun_of: None,
            parallelism: 1,
            cancel: CancellationToken::new(),
        }
    }
}

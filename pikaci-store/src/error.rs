//! [`StoreError`]: what can go wrong reading or writing a state root.

use std::io;

use pikaci_core::{JobId, LogFile, RunId};

/// An error of the store. Messages name runs, jobs and files of the layout,
/// never absolute paths; the I/O cause is kept as the `source`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The caller asked for something that cannot be valid.
    #[error("invalid input: {message}")]
    InvalidInput {
        /// What is wrong.
        message: String,
    },
    /// No such run.
    #[error("run {run} not found")]
    RunNotFound {
        /// The run.
        run: RunId,
    },
    /// The run exists but has no such job.
    #[error("run {run} has no job {job}")]
    JobNotFound {
        /// The run.
        run: RunId,
        /// The job.
        job: JobId,
    },
    /// The job exists but the log file does not.
    #[error("run {run} job {job} has no {}", file.file_name())]
    LogNotFound {
        /// The run.
        run: RunId,
        /// The job.
        job: JobId,
        /// Which log.
        file: LogFile,
    },
    /// A file of the run is unreadable as what it should be.
    #[error("run {run}: {file} is corrupt: {message}")]
    Corrupt {
        /// The run.
        run: RunId,
        /// The file, relative to the run folder (`run.json`, `jobs/x/host.log`).
        file: String,
        /// What is wrong with it.
        message: String,
    },
    /// The file system failed.
    #[error("{what}")]
    Io {
        /// What the store was doing, e.g. `writing run.json of run X`.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl StoreError {
    /// Whether the thing asked for does not exist (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::RunNotFound { .. } | Self::JobNotFound { .. } | Self::LogNotFound { .. }
        )
    }

    /// Whether the request itself was bad (HTTP 400).
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Self::InvalidInput { .. })
    }

    /// Whether a stored file is damaged (HTTP 500 naming the run).
    pub fn is_corrupt(&self) -> bool {
        matches!(self, Self::Corrupt { .. })
    }

    /// Whether the cause is a full disk or a read-only/permission problem, i.e.
    /// the state root cannot take writes.
    pub fn is_unwritable(&self) -> bool {
        match self {
            Self::Io { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::StorageFull
                    | io::ErrorKind::ReadOnlyFilesystem
                    | io::ErrorKind::PermissionDenied
                    | io::ErrorKind::QuotaExceeded
            ),
            _ => false,
        }
    }

    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}

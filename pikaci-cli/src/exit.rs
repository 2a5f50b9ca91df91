//! The command's error type and the exit code of each error.

use pikaci_core::engine::SelectError;
use pikaci_core::{IdError, PipelineError, RunId};
use pikaci_incus::IncusError;
use pikaci_store::{LogRangeError, StoreError};

// The codes themselves are part of pikaci's contract with the programs that
// run it, so they live in `pikaci_core::contract`.
pub use pikaci_core::contract::{
    EXIT_CODES_HELP, EXIT_INTERNAL, EXIT_JOB_FAILED, EXIT_OK, EXIT_USAGE,
};

/// What can stop a `pikaci` command.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A flag or argument is wrong.
    #[error("{0}")]
    Usage(String),
    /// An id given on the command line is invalid.
    #[error("invalid {what}: {source}")]
    InvalidId {
        /// Which argument.
        what: &'static str,
        /// Why.
        #[source]
        source: IdError,
    },
    /// The pipeline file could not be read.
    #[error("cannot read the pipeline file {path}: {source}")]
    ConfigRead {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The pipeline file is wrong.
    #[error(transparent)]
    Config(#[from] PipelineError),
    /// The byte range asked for is contradictory.
    #[error("invalid range: {0}")]
    InvalidRange(#[from] LogRangeError),
    /// The target or jobs asked for do not exist.
    #[error(transparent)]
    Select(#[from] SelectError),
    /// The Incus settings or an Incus command failed.
    #[error(transparent)]
    Incus(#[from] IncusError),
    /// Reading or writing the state root failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A rerun on the original's bytes is impossible: the snapshot is gone.
    #[error(
        "run {run} cannot be rerun on the same bytes: the snapshot of run {owner} is gone \
         (gc deleted it with its run, or the run was made with --discard-snapshot); \
         `pikaci rerun {run} --from-source` runs the same jobs on the current source tree"
    )]
    SnapshotGone {
        /// The run asked to be rerun.
        run: RunId,
        /// The run whose kept snapshot it ran in (itself, unless it was a rerun).
        owner: RunId,
    },
    /// The kept snapshot is there but cannot be read back whole (an object
    /// missing or changed since it was stored).
    #[error("the snapshot kept by run {run} cannot be read: {source}")]
    SnapshotUnreadable {
        /// The run whose kept snapshot it is.
        run: RunId,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Something of pikaci's own failed.
    #[error("{what}: {source}")]
    Internal {
        /// What pikaci was doing.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_)
            | Self::InvalidId { .. }
            | Self::ConfigRead { .. }
            | Self::Config(_)
            | Self::InvalidRange(_)
            | Self::Select(_)
            | Self::SnapshotGone { .. } => EXIT_USAGE,
            Self::SnapshotUnreadable { .. } => EXIT_INTERNAL,
            Self::Incus(e) => match e {
                IncusError::InvalidSetting { .. }
                | IncusError::InvalidJobEnv { .. }
                | IncusError::InvalidInstanceName { .. } => EXIT_USAGE,
                IncusError::Spawn { .. }
                | IncusError::Io { .. }
                | IncusError::CommandFailed { .. }
                | IncusError::ListOutput { .. } => EXIT_INTERNAL,
            },
            Self::Store(e) => {
                if e.is_not_found() || e.is_invalid_input() {
                    EXIT_USAGE
                } else {
                    EXIT_INTERNAL
                }
            }
            Self::Internal { .. } => EXIT_INTERNAL,
        }
    }
}

//! Exit codes and the command's error type, in one place.

use pikaci_core::engine::SelectError;
use pikaci_core::{IdError, PipelineError};
use pikaci_incus::IncusError;
use pikaci_store::StoreError;

/// Every job passed (or the command did what it was asked).
pub const EXIT_OK: u8 = 0;
/// A job failed, timed out or was cancelled.
pub const EXIT_JOB_FAILED: u8 = 1;
/// The command line or the pipeline file is wrong.
pub const EXIT_USAGE: u8 = 2;
/// pikaci itself could not do its work (I/O, a corrupt record, a broken environment).
pub const EXIT_INTERNAL: u8 = 3;

/// The exit codes as `--help` shows them.
pub const EXIT_CODES_HELP: &str = "Exit codes:\n  0  every job passed (or the command succeeded)\n  1  a job failed, timed out or was cancelled\n  2  usage or configuration error (bad flag, bad id, bad pikaci.toml, unknown run)\n  3  pikaci itself could not run (I/O error, corrupt record)";

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
    /// The target or jobs asked for do not exist.
    #[error(transparent)]
    Select(#[from] SelectError),
    /// The Incus settings or an Incus command failed.
    #[error(transparent)]
    Incus(#[from] IncusError),
    /// Reading or writing the state root failed.
    #[error(transparent)]
    Store(#[from] StoreError),
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
            | Self::Select(_) => EXIT_USAGE,
            Self::Incus(e) => match e {
                IncusError::Config(_)
                | IncusError::InvalidSetting { .. }
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

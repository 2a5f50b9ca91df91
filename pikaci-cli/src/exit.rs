//! The command's error type and the exit code of each error.

use pikaci_core::engine::SelectError;
use pikaci_core::{IdError, PipelineError, RunId};
use pikaci_incus::IncusError;
use pikaci_store::{LogRangeError, StoreError};

// The codes themselves are part of pikaci's contract with the programs that
// run it, so they live in `pikaci_core::contract`.
pub use pikaci_core::contract::{
    EXIT_BROKEN_PIPE, EXIT_CODES_HELP, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_JOB_FAILED, EXIT_OK,
    EXIT_TERMINATED, EXIT_USAGE,
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
    /// There is no pipeline file where one was looked for.
    #[error(
        "no pipeline file at {path}: write a pikaci.toml there (see docs/pipeline.md) or name one with --config FILE"
    )]
    ConfigMissing {
        /// Where it was looked for.
        path: String,
    },
    /// The pipeline file defines no job, so there is nothing to run.
    #[error("{path} defines no job: add a [[job]] table with an id and a command")]
    EmptyPipeline {
        /// The file.
        path: String,
    },
    /// The pipeline file is wrong.
    #[error(transparent)]
    Config(#[from] PipelineError),
    /// The pipeline file is wrong, with its text: shown with the line it is
    /// about and a caret (see `diagnostic`).
    #[error("{error}")]
    ConfigAt {
        /// What is wrong.
        #[source]
        error: PipelineError,
        /// The file's text.
        text: String,
    },
    /// `latest` or `latest-failed` found no such run.
    #[error("no {}run in this state root", if *failed { "failed " } else { "" })]
    NoRuns {
        /// Whether a failed run was looked for (`latest-failed`).
        failed: bool,
    },
    /// The run has no `prepared-outputs.json`.
    #[error("run {run} has no prepared outputs (no prepared-outputs.json in its folder)")]
    NoPreparedOutputs {
        /// The run.
        run: RunId,
    },
    /// A run id prefix matches more than one run.
    #[error("run id prefix {prefix:?} matches {count} runs: {}{}; give more of the id", candidates.iter().map(RunId::as_str).collect::<Vec<_>>().join(", "), if *count > candidates.len() { ", ..." } else { "" })]
    AmbiguousRun {
        /// The prefix given.
        prefix: String,
        /// How many runs it matches.
        count: usize,
        /// The first of them, newest first.
        candidates: Vec<RunId>,
    },
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
    /// Whether stdout's reader went away (`pikaci list | head -1`): the
    /// command stops quietly with [`EXIT_BROKEN_PIPE`].
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Internal { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// A hint to show under the error: `did you mean `build`?` for a target
    /// or job the pipeline does not define.
    pub fn hint(&self) -> Option<String> {
        let (word, known) = match self {
            Self::Select(SelectError::UnknownTarget { target, known }) => (target.as_str(), known),
            Self::Select(SelectError::UnknownJob { job, known }) => (job.as_str(), known),
            _ => return None,
        };
        pikaci_core::did_you_mean(word, known.split(", ")).map(|b| format!("did you mean `{b}`?"))
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Internal { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe => {
                EXIT_BROKEN_PIPE
            }
            Self::Usage(_)
            | Self::InvalidId { .. }
            | Self::ConfigRead { .. }
            | Self::ConfigMissing { .. }
            | Self::EmptyPipeline { .. }
            | Self::NoRuns { .. }
            | Self::NoPreparedOutputs { .. }
            | Self::AmbiguousRun { .. }
            | Self::Config(_)
            | Self::ConfigAt { .. }
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

/// A failed write to stdout as a [`CliError`]: a closed pipe is
/// [`EXIT_BROKEN_PIPE`], said by nobody.
pub(crate) fn printing(source: std::io::Error) -> CliError {
    CliError::Internal {
        what: "writing to stdout".into(),
        source,
    }
}

/// `writeln!` to stdout, returning a [`CliError`] from the function on failure.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*).map_err($crate::exit::printing)?
    }};
}

/// `write!` to stdout, returning a [`CliError`] from the function on failure.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout(), $($arg)*).map_err($crate::exit::printing)?
    }};
}
pub(crate) use {out, outln};

//! [`ReadError`]: why a read of the state root (or of a lane's own log)
//! gave no answer. The HTTP layer maps each variant to a status.

use pikaci_core::RunId;
use pikaci_store::StoreError;

use crate::db::LaneRunId;

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The store refused or failed (an invalid id, a missing run, job or
    /// log, a corrupt record, an i/o error): its own message names no path.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Every permit for large reads is taken and none freed in time.
    #[error("the server is busy with other large reads; try again in a moment")]
    Busy,
    /// A `run.json` larger than this server reads; it was not read.
    #[error(
        "the record of run {run} is {size} bytes, more than the {max} bytes this server reads; `pikaci status {run}` on the CI host shows it"
    )]
    RecordTooLarge {
        /// The run.
        run: RunId,
        /// Its `run.json`'s size.
        size: u64,
        /// The most this server reads.
        max: u64,
    },
    /// A read on the blocking pool panicked or was cancelled.
    #[error("a read task failed")]
    Task(#[source] tokio::task::JoinError),
    /// A lane run's own log could not be opened or read.
    #[error("the log of lane run {lane} cannot be read")]
    LaneLog {
        /// The lane run.
        lane: LaneRunId,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

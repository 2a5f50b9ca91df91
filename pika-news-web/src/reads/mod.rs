//! The read model: every read of runs and logs the server makes, and every
//! cache of them, behind one value ([`Reads`], inside the server's state).
//! A handler parses its request, asks `reads`, and answers; it holds no
//! cache and builds no path.
//!
//! - `model`: [`Reads`] (the store, the caches, the disk watch, the
//!   heavy-read permits, liveness and the clock) and [`Fresh`], what one
//!   request saw of the disk.
//! - `records`: a run's record, cached (`record_cache`) while its
//!   `run.json` is unchanged, reconciled (a dead owner → interrupted) and
//!   with no server path left in it (`answer_paths`).
//! - `logs`: a job's log opened (its small spans kept in `tail_cache`),
//!   read by range (cut by encoded size, [`encoded`]), or followed live;
//!   `lane_logs`: the viewer's logs and lane runs' own logs; `lines`: line
//!   numbers of log positions, counted once per log.
//! - `watch`: the inotify watch that keeps the caches fresh; `heavy` and
//!   `byte_budget`: bounded memory for large reads and downloads.
//!
//! This module builds on the store, the database's types and the data
//! folder's layout, never on the HTTP layer (`api`, `pages`, `auth`) or
//! the server's state (the `module_graph` integration test holds that).

mod answer_paths;
mod byte_budget;
pub(crate) mod encoded;
mod error;
mod heavy;
mod lane_logs;
pub(crate) mod lines;
mod logs;
mod model;
mod record_cache;
mod records;
mod tail_cache;
mod watch;

pub(crate) use byte_budget::ByteBudget;
pub(crate) use error::ReadError;
pub use heavy::HeavyReads;
pub(crate) use heavy::{DOWNLOAD_PIECE, HeavyPermit};
pub(crate) use lane_logs::Opened;
pub(crate) use logs::{FollowStart, JobLogs, OpenLog, read_piece, starts_line};
pub(crate) use model::blocking;
pub(crate) use model::{Fresh, Reads};
pub use records::MAX_SERVED_RECORD_BYTES;
pub(crate) use tail_cache::{LogKey, Span};

/// The file system the server's read model works over: the disk in the
/// server, any other [`Fs`](pikaci_store::Fs) (the in-memory one in
/// tests) behind the same type, so the server's state, its handlers and
/// its live streams have one type whatever they read. A call through it
/// costs a virtual call, and no allocation: the store clones it as a
/// reference count.
pub(crate) type ServedFs = std::sync::Arc<dyn pikaci_store::Fs>;

/// The file systems a read model works over: what the store needs, shared
/// with the blocking pool.
pub(crate) trait ReadFs: pikaci_store::Fs + Clone + Send + Sync + 'static {}

impl<F: pikaci_store::Fs + Clone + Send + Sync + 'static> ReadFs for F {}

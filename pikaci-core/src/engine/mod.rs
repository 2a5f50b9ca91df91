//! The run engine: runs a pipeline's jobs through executors and records the run.
//!
//! [`Engine`] takes a [`RunRequest`] carrying one [`JobSelection`], writes
//! `run.json` with status `running` before anything else, snapshots the
//! source as its [`SnapshotPolicy`] says (the git and copy work goes through
//! the [`Snapshotter`] seam, on the blocking pool), starts and skips jobs as
//! the [`Schedule`] of their needs decides, runs each with the [`Executor`]
//! that serves its kind (the [`HostExecutor`] runs it with bash here),
//! streams its logs through the [`RunStore`], rewrites the record as jobs
//! start and finish, and tells a [`RunObserver`] every lifecycle event.

mod capped;
mod clock;
mod copy;
pub mod deferred;
pub mod exit_cleanup;
mod host;
mod job;
mod job_cgroup;
pub mod kept;
mod kept_disk;
mod log_cap;
mod log_sink;
mod observer;
pub mod process;
mod recorder;
mod request;
mod run;
mod schedule;
mod seams;
mod select;
mod snapshot;
pub mod source;
pub mod supervisor;

pub use crate::record::JobOutcome;
pub use capped::CappedSink;
pub use clock::{Clock, SystemClock};
pub use deferred::{Deferred, DeferredCleanup, DeferredReport};
pub use host::{HostExecutor, human_duration};
pub use job_cgroup::JobCgroups;
pub use log_cap::{Admit, LogCap, truncation_marker};
pub use observer::{CollectingObserver, NoObserver, RunObserver};
pub use recorder::DEFAULT_RECORD_INTERVAL;
pub use request::{CancelReason, KeptFiles, KeptSnapshot, RunRequest, RunSource};
pub use run::{Engine, EngineBuilder};
pub use schedule::{Decision, Schedule};
pub use seams::{Executor, JobContext, LogSink, OwnerLock, RunStore, VecSink};
pub use select::{JobSelection, SelectError};
pub use snapshot::{DiskSnapshotter, SnapshotPolicy, Snapshotter};

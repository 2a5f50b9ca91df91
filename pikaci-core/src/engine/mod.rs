//! The run engine: runs a pipeline's jobs through executors and records the run.
//!
//! [`Engine`] takes a [`RunRequest`] carrying one [`JobSelection`], writes
//! `run.json` with status `running` before anything else, snapshots the
//! source as its [`SnapshotPolicy`](crate::snapshot::SnapshotPolicy) says (the
//! git and copy work goes through the
//! [`Snapshotter`](crate::snapshot::Snapshotter) seam, on the blocking pool),
//! starts and skips jobs as the [`Schedule`] of their needs decides, runs each
//! with the [`Executor`] that serves its kind (the [`HostExecutor`] runs it
//! with bash here, under the [`process`](crate::process) module's supervisor),
//! streams its logs through the [`RunStore`], rewrites the record as jobs
//! start and finish, and tells a [`RunObserver`] every lifecycle event.

pub mod deferred;
mod host;
mod job;
mod observer;
mod recorder;
mod request;
mod run;
mod schedule;
mod seams;
mod select;

pub use crate::record::JobOutcome;
pub use deferred::{Deferred, DeferredCleanup, DeferredReport};
pub use host::{HostExecutor, human_duration};
pub use observer::{CollectingObserver, NoObserver, RunObserver};
pub use recorder::DEFAULT_RECORD_INTERVAL;
pub use request::{CancelReason, KeptFiles, KeptSnapshot, RunRequest, RunSource};
pub use run::{Engine, EngineBuilder};
pub use schedule::{Decision, Schedule};
pub use seams::{Executor, JobContext, OwnerLock, RunStore};
pub use select::{JobSelection, SelectError};

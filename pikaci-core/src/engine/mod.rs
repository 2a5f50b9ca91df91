//! The run engine: runs a pipeline's jobs through executors and records the run.
//!
//! [`Engine`] takes a [`RunRequest`], writes `run.json` with status `running`
//! before anything else, snapshots the source, runs each selected job with the
//! [`Executor`] for its kind (the [`HostExecutor`] runs it with bash here),
//! streams its logs through the [`RunStore`], rewrites the record as jobs start
//! and finish, and tells a [`RunObserver`] every lifecycle event.

mod copy;
mod host;
mod observer;
pub mod process;
mod recorder;
mod run;
mod seams;
mod select;
pub mod source;

pub use host::{DEFAULT_KILL_GRACE, HostExecutor, human_duration};
pub use observer::{CollectingObserver, NoObserver, RunObserver};
pub use run::{Engine, EngineBuilder, EngineError, RunRequest, SnapshotPolicy};
pub use seams::{Clock, Executor, JobContext, JobOutcome, LogSink, RunStore, SystemClock, VecSink};
pub use select::{SelectError, select_jobs};

//! `run.json`: the record of a run and of each of its jobs (`model`), how
//! an executor reports a job's end (`outcome`), how a run's records are
//! built and folded as it goes (`build`), and what a rerun of a run runs
//! (`rerun`).

mod build;
mod model;
mod outcome;
mod rerun;

pub use model::{Extra, JobRecord, RemoteVmExecution, RunOwner, RunRecord, VmPhase};
pub use outcome::JobOutcome;
pub use rerun::RerunScope;

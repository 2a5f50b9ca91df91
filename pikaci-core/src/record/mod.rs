//! `run.json`: the record of a run and of each of its jobs (`model`), how
//! an executor reports a job's end (`outcome`), how a run's records are
//! built and folded as it goes (`build`), what a rerun of a run runs
//! (`rerun`), which job a reader gets when it names none (`default_job`),
//! why a failed run failed in one line (`why`); and `prepared-outputs.json`,
//! what a run prepared (`prepared`).

mod build;
mod default_job;
mod model;
mod outcome;
mod prepared;
mod rerun;
mod why;

pub use default_job::JobReader;
pub use model::{Extra, JobRecord, RemoteVmExecution, RunOwner, RunRecord, VmPhase};
pub use outcome::JobOutcome;
pub use prepared::{PreparedOutput, PreparedOutputs};
pub use rerun::RerunScope;

//! The seams the engine runs through: log sinks, the run store and
//! executors (the clock is [`Clock`](crate::Clock)).
//!
//! Everything that touches the disk, the clock or processes sits behind one of
//! these traits, so the engine's logic is tested with fakes.

use std::fmt;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use super::deferred::Deferred;
use crate::clock::Clock;
use crate::ids::{JobId, RunId};
use crate::pipeline::JobSpec;
use crate::record::{JobOutcome, RunRecord};
use crate::status::{ExecutorKind, LogFile};

use crate::process::LogSink;

/// Where the engine keeps run records and job logs. `pikaci-store` implements it
/// over a state root; tests use an in-memory fake.
pub trait RunStore: Send + Sync {
    /// The store's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Replaces `run.json` of `record.run_id` atomically.
    fn persist_run_record(&self, record: &RunRecord) -> Result<(), Self::Error>;

    /// Opens a job's log for appending, creating it (and its folders) if needed.
    fn open_job_log(
        &self,
        run: &RunId,
        job: &JobId,
        file: LogFile,
    ) -> Result<Box<dyn LogSink>, Self::Error>;

    /// The location a job log has in the layout (recorded in `run.json`, informative).
    fn job_log_path(&self, run: &RunId, job: &JobId, file: LogFile) -> Utf8PathBuf;

    /// Where a run's snapshot of the source lives.
    fn snapshot_dir(&self, run: &RunId) -> Utf8PathBuf;

    /// Where run `run` keeps its snapshot for reruns, when this store keeps
    /// snapshots as a manifest of shared objects; `None` (the default): it
    /// keeps the snapshot folder itself.
    fn kept_layout(&self, run: &RunId) -> Option<crate::snapshot::kept::KeptLayout> {
        let _ = run;
        None
    }

    /// Loads a run record (for reruns).
    fn load_run_record(&self, run: &RunId) -> Result<RunRecord, Self::Error>;

    /// Reserves a new run id: `Ok(false)` when a run with this id exists
    /// already (the engine then picks another id).
    fn claim_run(&self, run: &RunId) -> Result<bool, Self::Error> {
        let _ = run;
        Ok(true)
    }

    /// Locks the claimed run's folder for its owner, exclusively, until the
    /// returned guard is dropped (or the process ends, however it ends), so
    /// readers can tell a live run from one whose owner died by trying the
    /// lock ([`RunOwner::lock`](crate::RunOwner::lock)). `None` when the
    /// store has no such lock or could not take it: the record then does
    /// not claim one.
    fn lock_as_owner(&self, run: &RunId) -> Option<OwnerLock> {
        let _ = run;
        None
    }
}

/// The owner's lock of its run folder, held while the guard lives.
pub type OwnerLock = Box<dyn Send + Sync>;

/// Everything an executor gets to run one job.
pub struct JobContext<'a> {
    /// The run the job belongs to.
    pub run_id: &'a RunId,
    /// The job to run.
    pub job: &'a JobSpec,
    /// The directory the job runs in (the run's snapshot, or its private copy).
    pub workspace: &'a Utf8Path,
    /// The repository the snapshot was made from.
    pub source_root: &'a Utf8Path,
    /// pikaci's own account of the job goes here.
    pub host_log: &'a mut dyn LogSink,
    /// The job's stdout and stderr go here.
    pub guest_log: &'a mut dyn LogSink,
    /// How long the job may run; the executor kills it after that.
    pub timeout: Duration,
    /// Cancelled when the run is cancelled; the executor stops the job.
    pub cancel: CancellationToken,
    /// The clock to time phases with.
    pub clock: &'a dyn Clock,
    /// Where the executor may leave cleanup that need not hold up the job's
    /// result (see [`deferred`](super::deferred)).
    pub deferred: &'a mut Deferred,
}

impl fmt::Debug for JobContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobContext")
            .field("run_id", self.run_id)
            .field("job", &self.job.id)
            .field("workspace", &self.workspace)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Runs one job somewhere (on the host, in a VM, ...).
///
/// An executor must honour `ctx.timeout` and `ctx.cancel`, leave no process of
/// the job behind, and never print: it reports through the logs and its outcome.
pub trait Executor: Send + Sync {
    /// The executor kind this executor serves (matched against `JobSpec::executor`).
    fn kind(&self) -> ExecutorKind;

    /// Whether this executor runs jobs whose `executor` is `kind`: by
    /// default its own [`kind`](Self::kind) only. An executor that also
    /// answers to other names (an older name of the same backend) says so
    /// here; the engine itself knows no executor by name.
    fn serves(&self, kind: &ExecutorKind) -> bool {
        *kind == self.kind()
    }

    /// Runs the job to completion and says how it ended.
    fn execute<'a>(&'a self, ctx: JobContext<'a>) -> BoxFuture<'a, JobOutcome>;
}

//! [`Engine`]: runs the selected jobs of a pipeline and records the run.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio_util::sync::CancellationToken;

use super::observer::RunObserver;
use super::recorder::Recorder;
use super::seams::{Clock, Executor, JobContext, JobOutcome, LogSink, RunStore, SystemClock};
use super::select::{SelectError, select_jobs};
use super::source::{
    copy_snapshot, copy_tree, git_info, make_read_only, remove_tree, snapshot_files,
};
use crate::event::LifecycleEvent;
use crate::ids::{JobId, RunId, TargetId};
use crate::pipeline::{JobSpec, Pipeline};
use crate::record::{JobRecord, RunOwner, RunRecord};
use crate::status::{ExecutorKind, FailureKind, LogFile, RunStatus};

/// Where jobs run relative to the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotPolicy {
    /// Copy the source (tracked + untracked-not-ignored files) into the run's
    /// snapshot folder; read-only jobs share it (made read-only), writable
    /// jobs get a private copy. `exclude` keeps a folder inside the source
    /// (the state root) out; `keep` leaves the copies after the run.
    Copy {
        /// A folder inside the source to leave out.
        exclude: Option<Utf8PathBuf>,
        /// Keep the snapshot folders when the run ends.
        keep: bool,
    },
    /// Run in the source folder itself (for executors that need no files, and tests).
    InPlace,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The parsed pipeline.
    pub pipeline: Pipeline,
    /// Run this target's jobs.
    pub target: Option<TargetId>,
    /// Run only these jobs (within the target, if one is given).
    pub jobs: Vec<JobId>,
    /// The repository to run in.
    pub source_root: Utf8PathBuf,
    /// The run this one re-runs.
    pub rerun_of: Option<RunId>,
    /// How many jobs may run at once (at least 1).
    pub parallelism: usize,
    /// Cancel to stop the run: running jobs are stopped, the rest skipped.
    pub cancel: CancellationToken,
}

impl RunRequest {
    /// Every job of `pipeline`, one at a time, in `source_root`.
    pub fn new(pipeline: Pipeline, source_root: impl Into<Utf8PathBuf>) -> Self {
        Self {
            pipeline,
            target: None,
            jobs: Vec::new(),
            source_root: source_root.into(),
            rerun_of: None,
            parallelism: 1,
            cancel: CancellationToken::new(),
        }
    }
}

/// Why a run could not start at all (a run that starts always ends with a record).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The target or jobs asked for do not exist.
    #[error(transparent)]
    Select(#[from] SelectError),
}

/// Runs pipelines. Built with [`Engine::builder`].
pub struct Engine<S: RunStore> {
    store: S,
    executors: HashMap<String, Arc<dyn Executor>>,
    clock: Arc<dyn Clock>,
    owner: Option<RunOwner>,
    snapshot: SnapshotPolicy,
}

impl<S: RunStore> std::fmt::Debug for Engine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("executors", &self.executors.keys().collect::<Vec<_>>())
            .field("snapshot", &self.snapshot)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Engine`].
pub struct EngineBuilder<S: RunStore> {
    engine: Engine<S>,
}

fn registry_key(kind: &ExecutorKind) -> &str {
    if kind.is_incus() {
        "incus"
    } else {
        kind.as_str()
    }
}

impl<S: RunStore> Engine<S> {
    /// An engine over `store` with no executors, the system clock, no owner
    /// and [`SnapshotPolicy::InPlace`].
    pub fn builder(store: S) -> EngineBuilder<S> {
        EngineBuilder {
            engine: Engine {
                store,
                executors: HashMap::new(),
                clock: Arc::new(SystemClock),
                owner: None,
                snapshot: SnapshotPolicy::InPlace,
            },
        }
    }

    /// The store runs are recorded in.
    pub fn store(&self) -> &S {
        &self.store
    }
}

impl<S: RunStore> EngineBuilder<S> {
    /// Adds an executor; it serves jobs whose `executor` matches its kind.
    pub fn executor(mut self, executor: Arc<dyn Executor>) -> Self {
        let key = registry_key(&executor.kind()).to_owned();
        self.engine.executors.insert(key, executor);
        self
    }

    /// Sets the clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.engine.clock = clock;
        self
    }

    /// Records this process as the run's owner (so a dead owner is detectable).
    pub fn owner(mut self, owner: RunOwner) -> Self {
        self.engine.owner = Some(owner);
        self
    }

    /// Sets how the source is snapshotted.
    pub fn snapshot(mut self, policy: SnapshotPolicy) -> Self {
        self.engine.snapshot = policy;
        self
    }

    /// The engine.
    pub fn build(self) -> Engine<S> {
        self.engine
    }
}

/// A sink for when a log cannot be opened: output is dropped, the job still runs.
struct Discard;
impl Write for Discard {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
impl LogSink for Discard {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobState {
    Pending,
    Running,
    Done(RunStatus),
}

impl<S: RunStore> Engine<S> {
    /// Runs the request to the end and returns the final record. `run.json` is
    /// written (status `running`) before anything else and after every job
    /// start and end; events go to `observer` in order.
    pub async fn run(
        &self,
        req: RunRequest,
        observer: &dyn RunObserver,
    ) -> Result<RunRecord, EngineError> {
        let jobs = select_jobs(&req.pipeline, req.target.as_ref(), &req.jobs)?;
        let now = self.clock.now();
        let run_id = self.claim_run_id(now, observer);
        let git = git_info(&req.source_root);
        let target = req.target.as_ref().and_then(|t| req.pipeline.target(t));
        let record = RunRecord {
            run_id: run_id.clone(),
            status: RunStatus::Running,
            rerun_of: req.rerun_of.clone(),
            target_id: req.target.clone(),
            target_description: target
                .map(|t| t.description.clone())
                .filter(|d| !d.is_empty()),
            source_root: req.source_root.clone(),
            snapshot_dir: match self.snapshot {
                SnapshotPolicy::Copy { .. } => self.store.snapshot_dir(&run_id),
                SnapshotPolicy::InPlace => req.source_root.clone(),
            },
            git_head: git.head,
            git_dirty: git.dirty,
            created_at: now,
            finished_at: None,
            changed_files: git.changed_files,
            filters: req.jobs.iter().map(|j| j.to_string()).collect(),
            message: None,
            failure_kind: None,
            planned_jobs: jobs.iter().map(|j| j.id.clone()).collect(),
            owner: self.owner.clone(),
            jobs: Vec::new(),
        };
        let recorder = Recorder::new(record, &self.store, observer);
        let started = recorder.update(|_| {});
        observer.event(&LifecycleEvent::run_started(&started));

        let workspace = match self.prepare_snapshot(&run_id, &req.source_root).await {
            Ok(ws) => {
                if ws != started.snapshot_dir {
                    recorder.update(|r| r.snapshot_dir = ws.clone());
                }
                ws
            }
            Err(e) => {
                let finished = recorder.update(|r| {
                    r.status = RunStatus::Failed;
                    r.failure_kind = Some(FailureKind::Infrastructure);
                    r.finished_at = Some(self.clock.now());
                    r.message = Some(format!("could not snapshot the source: {e}"));
                });
                observer.event(&LifecycleEvent::RunFinished {
                    run: finished.clone(),
                });
                return Ok(finished);
            }
        };

        self.schedule(&recorder, &run_id, &jobs, &workspace, &req, observer)
            .await;

        if let SnapshotPolicy::Copy { keep: false, .. } = self.snapshot {
            let dir = workspace.clone();
            let _ = tokio::task::spawn_blocking(move || remove_tree(&dir)).await;
        }
        let cancelled = req.cancel.is_cancelled();
        let finished = recorder.update(|r| {
            let passed = r
                .jobs
                .iter()
                .filter(|j| j.status == RunStatus::Passed)
                .count();
            let failed: Vec<String> = r
                .jobs
                .iter()
                .filter(|j| j.status == RunStatus::Failed)
                .map(|j| match j.failure_kind {
                    Some(k) if k != FailureKind::TestFailure => format!("{} ({k})", j.id),
                    _ => j.id.to_string(),
                })
                .collect();
            let total = r.jobs.len();
            r.status = if passed == total && !cancelled {
                RunStatus::Passed
            } else {
                RunStatus::Failed
            };
            r.failure_kind = cancelled.then_some(FailureKind::Cancelled);
            r.finished_at = Some(self.clock.now());
            let mut msg = format!("{passed} of {total} jobs passed");
            if !failed.is_empty() {
                msg.push_str(&format!("; failed: {}", failed.join(", ")));
            }
            if cancelled {
                msg.push_str("; the run was cancelled");
            }
            r.message = Some(msg);
        });
        observer.event(&LifecycleEvent::RunFinished {
            run: finished.clone(),
        });
        Ok(finished)
    }

    /// A fresh run id whose folder this run owns. Ids carry 32 random bits, so
    /// a collision within one second is rare; when it happens another id is
    /// drawn. If the state root cannot be written the id is used as is (the
    /// run goes on; the recorder warns).
    fn claim_run_id(&self, now: jiff::Timestamp, observer: &dyn RunObserver) -> RunId {
        let mut id = RunId::new_at(now);
        for _ in 0..16 {
            match self.store.claim_run(&id) {
                Ok(true) | Err(_) => return id,
                Ok(false) => id = RunId::new_at(now),
            }
        }
        observer.warning(&format!(
            "could not find a free run id for {now}; using {id}"
        ));
        id
    }

    async fn prepare_snapshot(
        &self,
        run_id: &RunId,
        source: &Utf8Path,
    ) -> std::io::Result<Utf8PathBuf> {
        let SnapshotPolicy::Copy { exclude, .. } = &self.snapshot else {
            return Ok(source.to_owned());
        };
        let copy = |dest: Utf8PathBuf| {
            let (src, exclude) = (source.to_owned(), exclude.clone());
            async move {
                let d = dest.clone();
                tokio::task::spawn_blocking(move || {
                    let files = snapshot_files(&src)?;
                    copy_snapshot(&src, &files, &d, exclude.as_deref())?;
                    make_read_only(&d)
                })
                .await
                .map_err(std::io::Error::other)??;
                Ok::<_, std::io::Error>(dest)
            }
        };
        let primary = self.store.snapshot_dir(run_id);
        match copy(primary.clone()).await {
            Ok(dir) => Ok(dir),
            Err(first) => {
                // The state root may be unwritable; the jobs can still run from
                // a snapshot in the temporary folder.
                let _ = remove_tree(&primary);
                let fallback = Utf8PathBuf::from_path_buf(std::env::temp_dir())
                    .unwrap_or_else(|_| Utf8PathBuf::from("/tmp"))
                    .join(format!("pikaci-snapshot-{run_id}"));
                copy(fallback).await.map_err(|_| first)
            }
        }
    }

    async fn schedule(
        &self,
        recorder: &Recorder<'_, S>,
        run_id: &RunId,
        jobs: &[JobSpec],
        workspace: &Utf8Path,
        req: &RunRequest,
        observer: &dyn RunObserver,
    ) {
        let selected: Vec<&JobId> = jobs.iter().map(|j| &j.id).collect();
        let mut state: BTreeMap<&JobId, JobState> =
            jobs.iter().map(|j| (&j.id, JobState::Pending)).collect();
        let mut running = FuturesUnordered::new();
        let parallelism = req.parallelism.max(1);
        loop {
            if !req.cancel.is_cancelled() {
                for job in jobs {
                    if running.len() >= parallelism {
                        break;
                    }
                    if state[&job.id] != JobState::Pending {
                        continue;
                    }
                    // Needs outside the selection do not hold a job back.
                    let needs: Vec<&JobId> =
                        job.needs.iter().filter(|n| selected.contains(n)).collect();
                    if let Some(blocker) = needs
                        .iter()
                        .find(|n| matches!(state[**n], JobState::Done(s) if s != RunStatus::Passed))
                    {
                        let msg = format!("skipped: it needs {blocker}, which did not pass");
                        self.record_skipped(recorder, run_id, job, &msg, None, observer);
                        state.insert(&job.id, JobState::Done(RunStatus::Skipped));
                        continue;
                    }
                    if needs
                        .iter()
                        .all(|n| state[*n] == JobState::Done(RunStatus::Passed))
                    {
                        state.insert(&job.id, JobState::Running);
                        running.push(self.run_job(recorder, run_id, job, workspace, req, observer));
                    }
                }
            }
            let Some((id, status)) = running.next().await else {
                break;
            };
            state.insert(id, JobState::Done(status));
        }
        for job in jobs {
            if state[&job.id] == JobState::Pending {
                let (msg, kind) = if req.cancel.is_cancelled() {
                    (
                        "skipped: the run was cancelled before it started",
                        Some(FailureKind::Cancelled),
                    )
                } else {
                    ("skipped: its needs were not met", None)
                };
                self.record_skipped(recorder, run_id, job, msg, kind, observer);
            }
        }
    }

    fn new_job_record(&self, run_id: &RunId, job: &JobSpec) -> JobRecord {
        JobRecord {
            id: job.id.clone(),
            description: job.description.clone(),
            status: RunStatus::Running,
            executor: job.executor.clone(),
            timeout_secs: job.timeout_secs,
            host_log_path: self.store.job_log_path(run_id, &job.id, LogFile::Host),
            guest_log_path: self.store.job_log_path(run_id, &job.id, LogFile::Guest),
            started_at: self.clock.now(),
            finished_at: None,
            exit_code: None,
            message: None,
            failure_kind: None,
            remote_linux_vm_execution: None,
        }
    }

    fn record_skipped(
        &self,
        recorder: &Recorder<'_, S>,
        run_id: &RunId,
        job: &JobSpec,
        message: &str,
        failure_kind: Option<FailureKind>,
        observer: &dyn RunObserver,
    ) {
        let mut rec = self.new_job_record(run_id, job);
        rec.status = RunStatus::Skipped;
        rec.finished_at = Some(rec.started_at);
        rec.message = Some(message.to_owned());
        rec.failure_kind = failure_kind;
        recorder.update(|r| r.jobs.push(rec.clone()));
        observer.event(&LifecycleEvent::JobStarted {
            run_id: run_id.clone(),
            job: rec.clone(),
        });
        observer.event(&LifecycleEvent::JobFinished {
            run_id: run_id.clone(),
            job: rec,
        });
    }

    fn open_log(
        &self,
        recorder: &Recorder<'_, S>,
        run_id: &RunId,
        job: &JobId,
        file: LogFile,
    ) -> Box<dyn LogSink> {
        match self.store.open_job_log(run_id, job, file) {
            Ok(sink) => sink,
            Err(e) => {
                recorder.warn_store(&e);
                Box::new(Discard)
            }
        }
    }

    async fn run_job<'j>(
        &self,
        recorder: &Recorder<'_, S>,
        run_id: &RunId,
        job: &'j JobSpec,
        snapshot: &Utf8Path,
        req: &RunRequest,
        observer: &dyn RunObserver,
    ) -> (&'j JobId, RunStatus) {
        let mut host = self.open_log(recorder, run_id, &job.id, LogFile::Host);
        let mut guest = self.open_log(recorder, run_id, &job.id, LogFile::Guest);
        let mut rec = self.new_job_record(run_id, job);
        recorder.update(|r| r.jobs.push(rec.clone()));
        observer.event(&LifecycleEvent::JobStarted {
            run_id: run_id.clone(),
            job: rec.clone(),
        });
        let _ = writeln!(
            host,
            "[pikaci] run {run_id} job {} ({}) on {} started at {}",
            job.id,
            if job.description.is_empty() {
                "no description"
            } else {
                &job.description
            },
            job.executor,
            rec.started_at
        );

        let private =
            job.writable_workspace && matches!(self.snapshot, SnapshotPolicy::Copy { .. });
        let workspace = if private {
            let dest = snapshot.with_file_name(format!("workspace-{}", job.id));
            let (from, to) = (snapshot.to_owned(), dest.clone());
            match tokio::task::spawn_blocking(move || copy_tree(&from, &to)).await {
                Ok(Ok(_)) => Ok(dest),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        } else {
            Ok(snapshot.to_owned())
        };

        let outcome = match (&workspace, self.executors.get(registry_key(&job.executor))) {
            (Err(e), _) => JobOutcome::failed(
                FailureKind::Infrastructure,
                None,
                format!("could not make the job's writable copy of the snapshot: {e}"),
            ),
            (Ok(_), None) => JobOutcome::failed(
                FailureKind::Infrastructure,
                None,
                format!(
                    "no executor for {:?} is available in this pikaci",
                    job.executor.as_str()
                ),
            ),
            (Ok(ws), Some(executor)) => {
                let ctx = JobContext {
                    run_id,
                    job,
                    workspace: ws,
                    source_root: &req.source_root,
                    host_log: host.as_mut(),
                    guest_log: guest.as_mut(),
                    timeout: Duration::from_secs(job.timeout_secs),
                    cancel: req.cancel.child_token(),
                    clock: self.clock.as_ref(),
                };
                executor.execute(ctx).await
            }
        };
        if let (true, Ok(ws)) = (private, workspace) {
            let _ = tokio::task::spawn_blocking(move || remove_tree(&ws)).await;
        }

        rec.status = outcome.status;
        rec.exit_code = outcome.exit_code;
        rec.message = outcome.message;
        rec.failure_kind = outcome.failure_kind;
        rec.remote_linux_vm_execution = outcome.remote_linux_vm_execution;
        rec.finished_at = Some(self.clock.now());
        let _ = writeln!(
            host,
            "[pikaci] job {} {} at {}{}",
            job.id,
            rec.status,
            rec.finished_at.unwrap_or(rec.started_at),
            rec.message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        );
        let _ = host.flush();
        recorder.update(|r| {
            if let Some(slot) = r.job_mut(&job.id) {
                *slot = rec.clone();
            }
        });
        observer.event(&LifecycleEvent::JobFinished {
            run_id: run_id.clone(),
            job: rec.clone(),
        });
        (&job.id, rec.status)
    }
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;

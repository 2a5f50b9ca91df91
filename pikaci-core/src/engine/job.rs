//! One job of a run: its logs, its workspace, its executor, its records and
//! events.

use std::io::Write;
use std::time::Duration;

use super::deferred::{Deferred, DeferredCleanup};
use super::observer::RunObserver;
use super::recorder::Recorder;
use super::request::RunRequest;
use super::run::Engine;
use super::seams::{JobContext, RunStore};
use crate::escape::escape_controls;
use crate::event::LifecycleEvent;
use crate::ids::{JobId, RunId};
use crate::pipeline::JobSpec;
use crate::process::CappedSink;
use crate::process::LogSink;
use crate::record::{JobOutcome, JobRecord};
use crate::snapshot::Workspace;
use crate::status::{FailureKind, LogFile, RunStatus};

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

/// A finished job's cleanup that still has to run, with the job's
/// `host.log` it writes to.
pub(super) struct Leftover<'j> {
    job: &'j JobId,
    host_log: Box<dyn LogSink>,
    cleanup: Box<dyn DeferredCleanup>,
}

/// What [`Engine::run_job`] hands back: the job, how it ended, and the
/// cleanup it left, if any.
pub(super) type JobEnd<'j> = (&'j JobId, RunStatus, Option<Leftover<'j>>);

impl<S: RunStore> Engine<S> {
    /// Records a job that will not run, with its start and end events.
    pub(super) fn record_skipped(
        &self,
        recorder: &Recorder<'_, S>,
        run_id: &RunId,
        job: &JobSpec,
        message: String,
        failure_kind: Option<FailureKind>,
        observer: &dyn RunObserver,
    ) {
        let rec = JobRecord::skipped(
            job,
            self.clock.now(),
            |file| self.store.job_log_path(run_id, &job.id, file),
            message,
            failure_kind,
        );
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

    /// Runs one job with the executor that serves its kind, in the
    /// workspace or, for a writable job, its private copy, and records how
    /// it went. Cleanup the executor deferred comes back to be run with
    /// [`finish_leftover`](Self::finish_leftover) while the next jobs start.
    pub(super) async fn run_job<'j>(
        &self,
        recorder: &Recorder<'_, S>,
        run_id: &RunId,
        job: &'j JobSpec,
        workspace: &Workspace,
        req: &RunRequest,
        observer: &dyn RunObserver,
    ) -> JobEnd<'j> {
        let mut deferred = Deferred::default();
        let mut host = self.open_log(recorder, run_id, &job.id, LogFile::Host);
        let mut guest = CappedSink::new(
            self.open_log(recorder, run_id, &job.id, LogFile::Guest),
            job.max_log_bytes,
        );
        let mut rec = JobRecord::begin(job, self.clock.now(), |file| {
            self.store.job_log_path(run_id, &job.id, file)
        });
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
                "no description".into()
            } else {
                escape_controls(&job.description)
            },
            job.executor,
            rec.started_at
        );

        let private = workspace.private_dir(job);
        let workspace = match &private {
            Some(dest) => self
                .source
                .copy_tree(workspace.dir(), dest)
                .await
                .map(|()| dest.clone())
                .map_err(|e| e.to_string()),
            None => Ok(workspace.dir().to_owned()),
        };

        let outcome = match (&workspace, self.executor_for(&job.executor)) {
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
                    guest_log: &mut guest,
                    timeout: Duration::from_secs(job.timeout_secs),
                    cancel: req.cancel.child_token(),
                    clock: self.clock.as_ref(),
                    deferred: &mut deferred,
                };
                executor.execute(ctx).await
            }
        };
        if let (Some(_), Ok(ws)) = (&private, &workspace) {
            let _ = self.source.remove_tree(ws).await;
        }

        rec.finish(outcome, self.clock.now());
        if guest.truncated() {
            rec.log_truncated = true;
            let usage = guest.usage();
            let _ = writeln!(
                host,
                "[pikaci] guest.log reached max_log_bytes ({} bytes); {} bytes of output were dropped",
                usage.limit(),
                usage.dropped()
            );
        }
        let _ = writeln!(
            host,
            "[pikaci] job {} {} at {}{}",
            job.id,
            rec.status,
            rec.finished_at.unwrap_or(rec.started_at),
            rec.message
                .as_deref()
                .map(|m| format!(": {}", escape_controls(m)))
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
        let leftover = deferred.take().map(|cleanup| Leftover {
            job: &job.id,
            host_log: host,
            cleanup,
        });
        (&job.id, rec.status, leftover)
    }

    /// Runs a finished job's deferred cleanup and adds what it did (its
    /// phases, a failure) to the job's record.
    pub(super) async fn finish_leftover(&self, recorder: &Recorder<'_, S>, leftover: Leftover<'_>) {
        let Leftover {
            job,
            mut host_log,
            cleanup,
        } = leftover;
        let report = cleanup.run(host_log.as_mut(), self.clock.as_ref()).await;
        let _ = writeln!(
            host_log,
            "[pikaci] job {job} cleaned up at {}{}",
            self.clock.now(),
            report
                .failure
                .as_deref()
                .map(|m| format!(", with a failure: {}", escape_controls(m)))
                .unwrap_or_default()
        );
        let _ = host_log.flush();
        recorder.update(|r| {
            if let Some(slot) = r.job_mut(job) {
                report.amend(&mut slot.message, &mut slot.remote_linux_vm_execution);
            }
        });
    }
}

//! [`Engine`]: runs a request's jobs and records the run. The order of
//! things lives here; the needs graph is [`super::schedule`], the source
//! snapshot [`crate::snapshot`], one job [`super::job`], and what the records
//! say [`crate::RunRecord`]'s and [`crate::JobRecord`]'s own methods.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::observer::RunObserver;
use super::recorder::{DEFAULT_RECORD_INTERVAL, Recorder};
use super::request::{KeptFiles, KeptSnapshot, RunRequest, RunSource};
use super::schedule::{Decision, Schedule};
use super::seams::{Executor, RunStore};
use crate::clock::{Clock, SystemClock};
use crate::event::LifecycleEvent;
use crate::ids::RunId;
use crate::pipeline::JobSpec;
use crate::record::{RunOwner, RunRecord};
use crate::snapshot::kept::{KeptError, PendingObjects};
use crate::snapshot::source::GitInfo;
use crate::snapshot::{DiskSnapshotter, OffWorker, SnapshotPolicy, Snapshotter, Workspace};
use crate::status::{ExecutorKind, FailureKind};

/// Runs pipelines. Built with [`Engine::builder`].
pub struct Engine<S: RunStore> {
    pub(super) store: S,
    /// In the order added; the last one that serves a kind runs its jobs.
    executors: Vec<Arc<dyn Executor>>,
    pub(super) clock: Arc<dyn Clock>,
    owner: Option<RunOwner>,
    record_interval: Duration,
    pub(super) snapshot: SnapshotPolicy,
    pub(super) source: OffWorker,
}

impl<S: RunStore> std::fmt::Debug for Engine<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field(
                "executors",
                &self.executors.iter().map(|e| e.kind()).collect::<Vec<_>>(),
            )
            .field("snapshot", &self.snapshot)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Engine`].
pub struct EngineBuilder<S: RunStore> {
    engine: Engine<S>,
}

impl<S: RunStore> Engine<S> {
    /// An engine over `store` with no executors, the system clock, no owner,
    /// [`SnapshotPolicy::InPlace`] and the [`DiskSnapshotter`].
    pub fn builder(store: S) -> EngineBuilder<S> {
        EngineBuilder {
            engine: Engine {
                store,
                executors: Vec::new(),
                clock: Arc::new(SystemClock),
                owner: None,
                record_interval: DEFAULT_RECORD_INTERVAL,
                snapshot: SnapshotPolicy::InPlace,
                source: OffWorker(Arc::new(DiskSnapshotter)),
            },
        }
    }

    /// The store runs are recorded in.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The executor for jobs of `kind`, if one serves it.
    pub(super) fn executor_for(&self, kind: &ExecutorKind) -> Option<&Arc<dyn Executor>> {
        self.executors.iter().rev().find(|e| e.serves(kind))
    }
}

impl<S: RunStore> EngineBuilder<S> {
    /// Adds an executor; it runs the jobs whose `executor` it
    /// [serves](Executor::serves) (replacing one added before for the same kinds).
    pub fn executor(mut self, executor: Arc<dyn Executor>) -> Self {
        self.engine.executors.push(executor);
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

    /// Sets how often, at most, a running run's `run.json` is rewritten
    /// (default [`DEFAULT_RECORD_INTERVAL`]). The first and the last record
    /// are always written at once.
    pub fn record_interval(mut self, interval: Duration) -> Self {
        self.engine.record_interval = interval;
        self
    }

    /// Sets how the source is snapshotted.
    pub fn snapshot(mut self, policy: SnapshotPolicy) -> Self {
        self.engine.snapshot = policy;
        self
    }

    /// Sets what does the git and copy work (always on the blocking pool).
    pub fn snapshotter(mut self, snapshotter: Arc<dyn Snapshotter>) -> Self {
        self.engine.source = OffWorker(snapshotter);
        self
    }

    /// The engine.
    pub fn build(self) -> Engine<S> {
        self.engine
    }
}

impl<S: RunStore> Engine<S> {
    /// Runs the request to the end and returns the final record. `run.json`
    /// is written (status `running`) before anything else, then as jobs
    /// start and end (at most once per [record
    /// interval](EngineBuilder::record_interval)), and last before
    /// `run_finished`; events go to `observer` in order.
    pub async fn run(&self, req: RunRequest, observer: &dyn RunObserver) -> RunRecord {
        let now = self.clock.now();
        let run_id = self.claim_run_id(now, observer);
        // Held until the run has ended: the kernel drops it if we die first.
        let owner_lock = self.store.lock_as_owner(&run_id);
        let git = match &req.source {
            RunSource::Fresh => self.source.git_info(&req.source_root).await,
            RunSource::Kept(kept) => kept.git.clone(),
        };
        let mut record = self.first_record(&req, run_id.clone(), now, git);
        if let Some(owner) = record.owner.as_mut() {
            owner.lock = owner_lock.is_some();
        }
        let recorder = Recorder::new(record, &self.store, observer, self.record_interval);
        let started = recorder.save_now(|_| {});
        observer.event(&LifecycleEvent::run_started(&started));

        let primary = self.store.snapshot_dir(&run_id);
        let prepared = match &req.source {
            RunSource::Kept(KeptSnapshot {
                files: KeptFiles::Folder(dir),
                ..
            }) => Ok((
                Workspace::Kept {
                    dir: dir.clone(),
                    run_folder: primary.parent().unwrap_or(&primary).to_owned(),
                },
                PendingObjects::none(),
            )),
            RunSource::Kept(KeptSnapshot {
                files: KeptFiles::Manifest(kept),
                ..
            }) => self
                .source
                .materialize(kept, &primary)
                .await
                .map(|ws| (ws, PendingObjects::none())),
            RunSource::Fresh => {
                let kept = self.store.kept_layout(&run_id);
                self.source
                    .prepare(&self.snapshot, &run_id, primary, kept, &req.source_root)
                    .await
            }
        };
        let (workspace, pending) = match prepared {
            Ok((ws, pending)) => {
                if ws.dir() != started.snapshot_dir {
                    recorder.update(|r| r.snapshot_dir = ws.dir().to_owned());
                }
                (ws, pending)
            }
            Err(e) => {
                let message = match &req.source {
                    RunSource::Kept(kept) => {
                        format!("could not make the snapshot run {} kept: {e}", kept.of)
                    }
                    RunSource::Fresh => format!("could not snapshot the source: {e}"),
                };
                let finished = recorder.save_now(|r| r.fail_to_start(message, self.clock.now()));
                observer.event(&LifecycleEvent::RunFinished {
                    run: finished.clone(),
                });
                return finished;
            }
        };

        // A first snapshot's new contents are stored while the jobs run.
        let storing =
            (!pending.is_empty()).then(|| tokio::task::spawn_blocking(|| pending.store()));
        // The jobs run while their records are saved as they change.
        tokio::select! {
            biased;
            () = self.run_jobs(&recorder, &run_id, &workspace, &req, observer) => {}
            () = recorder.flush_periodically() => {}
        }

        let kept_whole = kept_snapshot_stored(storing, &recorder).await;
        if workspace.removed_at_end(&self.snapshot) && kept_whole {
            let _ = self.source.remove_tree(workspace.dir()).await;
        }
        let cancelled = req.cancel.is_cancelled();
        let finished = recorder.save_now(|r| {
            r.cancel_reason = req.cancel_reason.get().map(str::to_owned);
            r.finish(cancelled, self.clock.now());
        });
        observer.event(&LifecycleEvent::RunFinished {
            run: finished.clone(),
        });
        drop(owner_lock);
        finished
    }

    /// The run's first record: `running`, with what the request and git say.
    fn first_record(
        &self,
        req: &RunRequest,
        run_id: RunId,
        now: jiff::Timestamp,
        git: GitInfo,
    ) -> RunRecord {
        let selection = &req.selection;
        let (snapshot_dir, snapshot_of) = match &req.source {
            RunSource::Fresh => (
                self.snapshot
                    .planned_dir(self.store.snapshot_dir(&run_id), &req.source_root),
                None,
            ),
            RunSource::Kept(kept) => match &kept.files {
                KeptFiles::Folder(dir) => (dir.clone(), Some(kept.of.clone())),
                // Made again in this run's own folder.
                KeptFiles::Manifest(_) => (self.store.snapshot_dir(&run_id), Some(kept.of.clone())),
            },
        };
        RunRecord {
            rerun_of: req.rerun_of.clone(),
            target_id: selection.target().cloned(),
            target_description: selection.target_description().map(str::to_owned),
            git_head: git.head,
            git_dirty: git.dirty,
            git_branch: req.branch.clone().or(git.branch),
            changed_files: git.changed_files,
            filters: selection.filters().iter().map(|j| j.to_string()).collect(),
            planned_jobs: selection.jobs().iter().map(|j| j.id.clone()).collect(),
            job_needs: selection
                .jobs()
                .iter()
                .filter(|j| !j.needs.is_empty())
                .map(|j| (j.id.clone(), j.needs.clone()))
                .collect(),
            owner: self.owner.clone(),
            snapshot_of,
            ..RunRecord::begin(run_id, now, req.source_root.clone(), snapshot_dir)
        }
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

    /// Starts and skips jobs as the [`Schedule`] says until none is left;
    /// once the run is cancelled nothing more starts and the rest is skipped.
    async fn run_jobs(
        &self,
        recorder: &Recorder<'_, S>,
        run_id: &RunId,
        workspace: &Workspace,
        req: &RunRequest,
        observer: &dyn RunObserver,
    ) {
        let jobs = req.selection.jobs();
        let spec = |id: &crate::ids::JobId| -> &JobSpec {
            jobs.iter()
                .find(|j| &j.id == id)
                .expect("the schedule only names selected jobs")
        };
        let mut schedule = Schedule::new(jobs, req.parallelism);
        let mut running = FuturesUnordered::new();
        // Cleanup finished jobs left (deleting an instance) runs beside the
        // next jobs; the run ends only once all of it has.
        let mut leftovers = FuturesUnordered::new();
        loop {
            if !req.cancel.is_cancelled() {
                for decision in schedule.advance() {
                    match decision {
                        Decision::Start(id) => running.push(self.run_job(
                            recorder,
                            run_id,
                            spec(&id),
                            workspace,
                            req,
                            observer,
                        )),
                        Decision::Skip { job, blocker } => self.record_skipped(
                            recorder,
                            run_id,
                            spec(&job),
                            format!("skipped: it needs {blocker}, which did not pass"),
                            None,
                            observer,
                        ),
                    }
                }
            }
            tokio::select! {
                Some((id, status, leftover)) = running.next() => {
                    schedule.finish(id, status);
                    if let Some(leftover) = leftover {
                        leftovers.push(self.finish_leftover(recorder, leftover));
                    }
                }
                Some(()) = leftovers.next() => {}
                else => break,
            }
        }
        for id in schedule.unstarted() {
            let (message, kind) = if req.cancel.is_cancelled() {
                (
                    "skipped: the run was cancelled before it started",
                    Some(FailureKind::Cancelled),
                )
            } else {
                ("skipped: its needs were not met", None)
            };
            self.record_skipped(
                recorder,
                run_id,
                spec(&id),
                message.to_owned(),
                kind,
                observer,
            );
        }
    }
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;

/// Waits for a kept snapshot's new contents to be stored (`storing`, `None`
/// when there were none). `false` when some could not be: the record says
/// why (`snapshot_warning`), and the run's copy must stay, for a rerun to
/// take them from.
async fn kept_snapshot_stored<S: RunStore>(
    storing: Option<tokio::task::JoinHandle<Result<usize, KeptError>>>,
    recorder: &Recorder<'_, S>,
) -> bool {
    let Some(storing) = storing else {
        return true;
    };
    let why = match storing.await {
        Ok(Ok(_)) => return true,
        Ok(Err(e)) => e.to_string(),
        Err(e) => format!("storing its objects stopped: {e}"),
    };
    recorder.update(|r| {
        r.snapshot_warning = Some(format!(
            "the snapshot kept for reruns is incomplete, its folder stays in the run's folder: {why}"
        ));
    });
    false
}

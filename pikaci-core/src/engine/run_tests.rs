//! Engine tests with a fake store and scripted executors: no processes, no sleeps.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use futures::future::BoxFuture;

use super::*;
use crate::engine::deferred::{DeferredCleanup, DeferredReport};
use crate::engine::observer::{CollectingObserver, NoObserver, RunObserver};
use crate::engine::request::{KeptFiles, KeptSnapshot};
use crate::engine::seams::JobContext;
use crate::engine::select::{JobSelection, SelectError};
use crate::ids::JobId;
use crate::pipeline::Pipeline;
use crate::process::{LogSink, VecSink};
use crate::record::JobOutcome;
use crate::snapshot::kept::{KeptLayout, ObjectId, Objects, PendingObjects};
use crate::status::{LogFile, RunStatus};

#[derive(Default)]
struct FakeStore {
    saved: Arc<Mutex<Vec<RunRecord>>>,
    fail: bool,
    /// Ids offered to `claim_run`; the first `taken` of them are refused.
    claims: Mutex<Vec<RunId>>,
    taken: usize,
    /// When set, the store locks runs for their owner, and this says
    /// whether a lock is held now.
    owner_lock: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// Keeps snapshots as manifests of shared objects (as the real store does).
    keeps_manifests: bool,
}

/// Clears its flag when the owner lets go of the lock.
struct LockGuard(Arc<std::sync::atomic::AtomicBool>);

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl RunStore for FakeStore {
    type Error = io::Error;
    fn persist_run_record(&self, record: &RunRecord) -> Result<(), io::Error> {
        if self.fail {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device",
            ));
        }
        self.saved.lock().unwrap().push(record.clone());
        Ok(())
    }
    fn open_job_log(
        &self,
        _: &RunId,
        _: &JobId,
        _: LogFile,
    ) -> Result<Box<dyn LogSink>, io::Error> {
        if self.fail {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "no space left on device",
            ));
        }
        Ok(Box::new(VecSink::default()))
    }
    fn job_log_path(&self, run: &RunId, job: &JobId, file: LogFile) -> Utf8PathBuf {
        format!("/state/runs/{run}/jobs/{job}/{}", file.file_name()).into()
    }
    fn snapshot_dir(&self, run: &RunId) -> Utf8PathBuf {
        format!("/state/runs/{run}/snapshot").into()
    }
    fn kept_layout(&self, run: &RunId) -> Option<KeptLayout> {
        self.keeps_manifests.then(|| KeptLayout {
            objects: "/state/objects".into(),
            manifest: format!("/state/runs/{run}/snapshot.manifest").into(),
            leftover: Some(format!("/state/runs/{run}/snapshot").into()),
        })
    }
    fn claim_run(&self, run: &RunId) -> Result<bool, io::Error> {
        let mut claims = self.claims.lock().unwrap();
        claims.push(run.clone());
        Ok(claims.len() > self.taken)
    }
    fn lock_as_owner(&self, _: &RunId) -> Option<crate::engine::OwnerLock> {
        let held = self.owner_lock.clone()?;
        held.store(true, std::sync::atomic::Ordering::SeqCst);
        Some(Box::new(LockGuard(held)))
    }
    fn load_run_record(&self, _: &RunId) -> Result<RunRecord, io::Error> {
        self.saved
            .lock()
            .unwrap()
            .last()
            .cloned()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
}

#[derive(Clone)]
enum Act {
    Pass,
    Fail(i32),
    Barrier(Arc<tokio::sync::Barrier>),
    WaitForCancel,
    Sleep(Duration),
    /// Passes, leaving a cleanup that waits for this, then fails.
    DeferUntil(Arc<tokio::sync::Notify>),
    /// Passes after notifying this.
    Notify(Arc<tokio::sync::Notify>),
}

/// A deferred cleanup that ends once `gate` opens: one phase, one failure.
struct GatedCleanup(Arc<tokio::sync::Notify>);

impl DeferredCleanup for GatedCleanup {
    fn run<'a>(
        self: Box<Self>,
        host_log: &'a mut dyn LogSink,
        clock: &'a dyn Clock,
    ) -> BoxFuture<'a, DeferredReport> {
        Box::pin(async move {
            let started_at = clock.now();
            self.0.notified().await;
            let _ = writeln!(host_log, "deleted");
            DeferredReport {
                phases: vec![crate::record::VmPhase {
                    phase: "delete_instance".to_owned(),
                    started_at,
                    finished_at: clock.now(),
                    duration_ms: 0,
                    extra: Default::default(),
                }],
                failure: Some("the instance was busy".to_owned()),
            }
        })
    }
}

struct Scripted(HashMap<String, Act>);

impl Executor for Scripted {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Host
    }
    fn execute<'a>(&'a self, ctx: JobContext<'a>) -> BoxFuture<'a, JobOutcome> {
        let act = self
            .0
            .get(ctx.job.id.as_str())
            .cloned()
            .unwrap_or(Act::Pass);
        Box::pin(async move {
            let _ = writeln!(ctx.guest_log, "running {}", ctx.job.id);
            match act {
                Act::Pass => JobOutcome::passed(),
                Act::Fail(code) => JobOutcome::failed(FailureKind::TestFailure, Some(code), "boom"),
                Act::Barrier(b) => {
                    b.wait().await;
                    JobOutcome::passed()
                }
                Act::Sleep(d) => {
                    tokio::time::sleep(d).await;
                    JobOutcome::passed()
                }
                Act::WaitForCancel => {
                    ctx.cancel.cancelled().await;
                    JobOutcome::failed(FailureKind::Cancelled, None, "cancelled")
                }
                Act::DeferUntil(gate) => {
                    ctx.deferred.defer(Box::new(GatedCleanup(gate)));
                    JobOutcome {
                        remote_linux_vm_execution: Some(crate::record::RemoteVmExecution::new(
                            "incus",
                            Vec::new(),
                        )),
                        ..JobOutcome::passed()
                    }
                }
                Act::Notify(n) => {
                    n.notify_one();
                    JobOutcome::passed()
                }
            }
        })
    }
}

fn pipeline(text: &str) -> Pipeline {
    Pipeline::parse(text, Utf8Path::new("pikaci.toml")).unwrap()
}

/// Every job of `text`.
fn all(text: &str) -> JobSelection {
    JobSelection::all(&pipeline(text))
}

/// The jobs of target `t` of `text`.
fn target(text: &str, t: &str) -> JobSelection {
    JobSelection::new(&pipeline(text), Some(t.parse().unwrap()), Vec::new()).unwrap()
}

const THREE: &str = "[[job]]\nid = \"a\"\ncommand = \"x\"\n[[job]]\nid = \"b\"\ncommand = \"x\"\nneeds = [\"a\"]\n\
                     [[job]]\nid = \"c\"\ncommand = \"x\"\n[[target]]\nid = \"t\"\ndescription = \"the t\"\njobs = [\"a\", \"c\"]\n";

fn engine(store: FakeStore, acts: &[(&str, Act)]) -> Engine<FakeStore> {
    let map = acts
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    Engine::builder(store)
        .executor(Arc::new(Scripted(map)))
        .owner(RunOwner {
            pid: 1,
            host: "h".into(),
            start_ticks: None,
            lock: false,
        })
        .build()
}

fn kinds(events: &[LifecycleEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            LifecycleEvent::RunStarted { .. } => "run_started".to_owned(),
            LifecycleEvent::JobStarted { job, .. } => format!("job_started {}", job.id),
            LifecycleEvent::JobFinished { job, .. } => {
                format!("job_finished {} {}", job.id, job.status)
            }
            LifecycleEvent::RunFinished { run } => format!("run_finished {}", run.status),
        })
        .collect()
}

#[tokio::test]
async fn the_record_claims_the_owner_lock_only_when_the_store_took_it() {
    let held = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let store = FakeStore {
        owner_lock: Some(held.clone()),
        ..FakeStore::default()
    };
    let e = engine(store, &[]);
    let rec = e
        .run(
            RunRequest::new(target(THREE, "t"), "/src"),
            &CollectingObserver::default(),
        )
        .await;
    let saved = e.store().saved.lock().unwrap().clone();
    assert!(saved[0].owner.as_ref().unwrap().lock);
    assert_eq!(rec.status, RunStatus::Passed);
    // Let go once the run has ended.
    assert!(!held.load(std::sync::atomic::Ordering::SeqCst));
    // A store without locks: the record claims none.
    let e = engine(FakeStore::default(), &[]);
    e.run(
        RunRequest::new(target(THREE, "t"), "/src"),
        &CollectingObserver::default(),
    )
    .await;
    let saved = e.store().saved.lock().unwrap().clone();
    assert!(!saved[0].owner.as_ref().unwrap().lock);
}

#[tokio::test]
async fn records_running_first_then_every_step_and_events_in_order() {
    let e = engine(FakeStore::default(), &[]);
    let obs = CollectingObserver::default();
    let req = RunRequest::new(target(THREE, "t"), "/src");
    let rec = e.run(req, &obs).await;
    assert_eq!(rec.status, RunStatus::Passed);
    assert_eq!(rec.target_description.as_deref(), Some("the t"));
    assert_eq!(rec.message.as_deref(), Some("2 of 2 jobs passed"));
    assert_eq!(
        kinds(&obs.events()),
        [
            "run_started",
            "job_started a",
            "job_finished a passed",
            "job_started c",
            "job_finished c passed",
            "run_finished passed"
        ]
    );
    let saved = e.store().saved.lock().unwrap().clone();
    assert_eq!(saved[0].status, RunStatus::Running);
    assert!(saved[0].jobs.is_empty());
    assert_eq!(saved[0].planned_jobs.len(), 2);
    assert_eq!(saved[0].owner.as_ref().unwrap().pid, 1);
    // The jobs ended before the record was due again: the first and the last.
    assert_eq!(saved.len(), 2);
    assert_eq!(saved.last().unwrap(), &rec);
    assert!(
        rec.jobs[0]
            .host_log_path
            .as_str()
            .ends_with("jobs/a/host.log")
    );
}

#[tokio::test]
async fn a_failure_skips_what_needs_it_and_fails_the_run() {
    let e = engine(FakeStore::default(), &[("a", Act::Fail(2))]);
    let obs = CollectingObserver::default();
    let rec = e.run(RunRequest::new(all(THREE), "/src"), &obs).await;
    assert_eq!(rec.status, RunStatus::Failed);
    assert_eq!(rec.failure_kind, None);
    let b = rec.job(&"b".parse().unwrap()).unwrap();
    assert_eq!(b.status, RunStatus::Skipped);
    assert!(b.message.as_deref().unwrap().contains("needs a"));
    assert_eq!(
        rec.job(&"c".parse().unwrap()).unwrap().status,
        RunStatus::Passed
    );
    assert_eq!(rec.jobs[0].exit_code, Some(2));
    assert_eq!(
        rec.message.as_deref(),
        Some("1 of 3 jobs passed; failed: a")
    );
    // The record keeps the needs graph (what a page draws) and says why in one line.
    let needs: Vec<(String, Vec<String>)> = rec
        .job_needs
        .iter()
        .map(|(j, n)| (j.to_string(), n.iter().map(|n| n.to_string()).collect()))
        .collect();
    assert_eq!(needs, [("b".to_owned(), vec!["a".to_owned()])]);
    assert_eq!(rec.why_failed().as_deref(), Some("failed: a (exit 2)"));
}

#[tokio::test(start_paused = true)]
async fn parallel_jobs_run_at_the_same_time() {
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let e = engine(
        FakeStore::default(),
        &[
            ("a", Act::Barrier(barrier.clone())),
            ("c", Act::Barrier(barrier)),
        ],
    );
    let mut req = RunRequest::new(target(THREE, "t"), "/src");
    req.parallelism = 2;
    // With one job at a time the barrier would never open; time is paused, so
    // the timeout fires at once instead of hanging.
    let rec = tokio::time::timeout(Duration::from_secs(60), e.run(req, &NoObserverForTests))
        .await
        .expect("both jobs ran together");
    assert_eq!(rec.status, RunStatus::Passed);
}

#[tokio::test(start_paused = true)]
async fn a_deferred_cleanup_runs_beside_the_next_job_and_the_run_waits_for_it() {
    // b needs a and only one job runs at a time: b can start only once a's
    // result is recorded, and a's cleanup ends only once b has started.
    let gate = Arc::new(tokio::sync::Notify::new());
    let e = engine(
        FakeStore::default(),
        &[
            ("a", Act::DeferUntil(gate.clone())),
            ("b", Act::Notify(gate)),
        ],
    );
    let two = "[[job]]\nid = \"a\"\ncommand = \"x\"\n[[job]]\nid = \"b\"\ncommand = \"x\"\nneeds = [\"a\"]\n";
    let obs = CollectingObserver::default();
    let rec = tokio::time::timeout(
        Duration::from_secs(60),
        e.run(RunRequest::new(all(two), "/src"), &obs),
    )
    .await
    .expect("b started while a's cleanup waited for it");
    assert_eq!(
        rec.status,
        RunStatus::Passed,
        "a cleanup does not fail a job"
    );
    let a = &rec.jobs[0];
    assert_eq!(
        a.message.as_deref(),
        Some("cleanup failed: the instance was busy")
    );
    let phases: Vec<_> = a
        .remote_linux_vm_execution
        .as_ref()
        .unwrap()
        .phases
        .iter()
        .map(|p| p.phase.as_str())
        .collect();
    assert_eq!(phases, ["delete_instance"]);
    // a's result was announced before its cleanup ended; the run's end after.
    let events = obs.events();
    let LifecycleEvent::JobFinished { job, .. } = &events[2] else {
        panic!("{:?}", kinds(&events));
    };
    assert_eq!((job.id.as_str(), job.message.as_deref()), ("a", None));
    assert_eq!(
        kinds(&events),
        [
            "run_started",
            "job_started a",
            "job_finished a passed",
            "job_started b",
            "job_finished b passed",
            "run_finished passed"
        ]
    );
    assert_eq!(e.store().saved.lock().unwrap().last().unwrap(), &rec);
}

struct NoObserverForTests;
impl RunObserver for NoObserverForTests {
    fn event(&self, _: &LifecycleEvent) {}
}

#[tokio::test]
async fn cancel_stops_the_running_job_and_skips_the_rest() {
    let e = engine(FakeStore::default(), &[("a", Act::WaitForCancel)]);
    let req = RunRequest::new(all(THREE), "/src");
    let cancel = req.cancel.clone();
    let obs = CollectingObserver::default();
    let run = e.run(req, &obs);
    let (rec, ()) = tokio::join!(run, async {
        tokio::task::yield_now().await;
        cancel.cancel();
    });
    assert_eq!(rec.status, RunStatus::Failed);
    assert_eq!(rec.failure_kind, Some(FailureKind::Cancelled));
    assert_eq!(rec.jobs.len(), 3);
    assert_eq!(rec.jobs[0].failure_kind, Some(FailureKind::Cancelled));
    assert!(rec.jobs[1..].iter().all(|j| j.status == RunStatus::Skipped));
    assert!(matches!(
        obs.events().last(),
        Some(LifecycleEvent::RunFinished { .. })
    ));
}

#[tokio::test]
async fn an_unwritable_store_warns_once_and_the_jobs_still_run() {
    let e = engine(
        FakeStore {
            fail: true,
            ..FakeStore::default()
        },
        &[("c", Act::Fail(1))],
    );
    let obs = CollectingObserver::default();
    let rec = e.run(RunRequest::new(all(THREE), "/src"), &obs).await;
    assert_eq!(rec.jobs.len(), 3);
    assert_eq!(
        rec.status,
        RunStatus::Failed,
        "c's failure is still reported"
    );
    let warnings = obs.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("no space left on device"),
        "{}",
        warnings[0]
    );
    assert_eq!(kinds(&obs.events()).len(), 8);
}

#[tokio::test]
async fn a_job_without_its_executor_fails_as_infrastructure() {
    let e: Engine<FakeStore> = Engine::builder(FakeStore::default()).build();
    let p = pipeline("[[job]]\nid = \"vm\"\ncommand = \"x\"\nexecutor = \"incus\"\n");
    let rec = e
        .run(
            RunRequest::new(JobSelection::all(&p), "/src"),
            &NoObserverForTests,
        )
        .await;
    assert_eq!(rec.jobs[0].failure_kind, Some(FailureKind::Infrastructure));
    assert!(
        rec.jobs[0]
            .message
            .as_deref()
            .unwrap()
            .contains("\"incus\"")
    );
}

#[test]
fn unknown_selections_are_errors_before_any_run_exists() {
    // A request can only carry a valid selection, so a bad target or job is
    // refused before an engine is even asked.
    let p = pipeline(THREE);
    assert!(matches!(
        JobSelection::new(&p, Some("nope".parse().unwrap()), Vec::new()),
        Err(SelectError::UnknownTarget { .. })
    ));
    assert!(matches!(
        JobSelection::new(&p, None, vec!["zz".parse().unwrap()]),
        Err(SelectError::UnknownJob { .. })
    ));
}

#[tokio::test]
async fn rerun_of_and_filters_are_recorded() {
    let e = engine(FakeStore::default(), &[]);
    let selection = JobSelection::new(&pipeline(THREE), None, vec!["c".parse().unwrap()]).unwrap();
    let mut req = RunRequest::new(selection, "/src");
    req.rerun_of = Some("20260324T161238Z-1a2b3c4d".parse().unwrap());
    let rec = e.run(req, &NoObserverForTests).await;
    assert_eq!(
        rec.rerun_of.as_ref().unwrap().as_str(),
        "20260324T161238Z-1a2b3c4d"
    );
    assert_eq!(rec.filters, ["c"]);
    assert_eq!(rec.jobs.len(), 1);
}

#[tokio::test]
async fn a_taken_run_id_is_never_reused() {
    let e = engine(
        FakeStore {
            taken: 2,
            ..FakeStore::default()
        },
        &[],
    );
    let rec = e
        .run(RunRequest::new(all(THREE), "/src"), &NoObserverForTests)
        .await;
    let claims = e.store().claims.lock().unwrap().clone();
    assert_eq!(claims.len(), 3);
    assert_eq!(rec.run_id, claims[2]);
    assert_eq!(e.store().saved.lock().unwrap()[0].run_id, claims[2]);
}

/// Serves `kind` under its own name and an older one, like a renamed backend.
struct Renamed {
    kind: &'static str,
    old: &'static str,
    label: &'static str,
}

impl Executor for Renamed {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::from(self.kind)
    }
    fn serves(&self, kind: &ExecutorKind) -> bool {
        kind.as_str() == self.kind || kind.as_str() == self.old
    }
    fn execute<'a>(&'a self, _: JobContext<'a>) -> BoxFuture<'a, JobOutcome> {
        Box::pin(async move {
            JobOutcome {
                message: Some(self.label.to_owned()),
                ..JobOutcome::passed()
            }
        })
    }
}

#[tokio::test]
async fn executors_are_found_by_the_kinds_they_serve_the_last_added_first() {
    let mut p =
        pipeline("[[job]]\nid = \"a\"\ncommand = \"x\"\n[[job]]\nid = \"b\"\ncommand = \"x\"\n");
    p.jobs[0].executor = ExecutorKind::from("vm");
    p.jobs[1].executor = ExecutorKind::from("legacy_vm");
    let e = Engine::builder(FakeStore::default())
        .executor(Arc::new(Renamed {
            kind: "vm",
            old: "legacy_vm",
            label: "first",
        }))
        .executor(Arc::new(Renamed {
            kind: "vm",
            old: "none",
            label: "second",
        }))
        .build();
    let rec = e
        .run(
            RunRequest::new(JobSelection::all(&p), "/src"),
            &NoObserverForTests,
        )
        .await;
    let said: Vec<_> = rec.jobs.iter().map(|j| j.message.as_deref()).collect();
    assert_eq!(said, [Some("second"), Some("first")]);
}

/// A snapshotter that records its calls; each call may first wait at a gate.
#[derive(Default)]
struct FakeTree {
    calls: Mutex<Vec<String>>,
    fail_snapshot: bool,
    /// Snapshots into folders under this one fail.
    fail_snapshot_under: Option<Utf8PathBuf>,
    /// Making a kept snapshot again fails (an object was changed).
    fail_materialize: bool,
    gate: Option<Mutex<std::sync::mpsc::Receiver<()>>>,
    /// What a kept snapshot leaves to store (nothing by default).
    pending: Mutex<Option<PendingObjects>>,
}

impl FakeTree {
    fn call(&self, what: String) {
        if let Some(gate) = &self.gate {
            // Released by the test's async side; a call made on the runtime's
            // only thread would never see it.
            let opened = gate
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(10))
                .is_ok();
            assert!(opened, "{what} blocked the runtime");
        }
        self.calls.lock().unwrap().push(what);
    }
}

impl Snapshotter for FakeTree {
    fn git_info(&self, source: &Utf8Path) -> GitInfo {
        self.call(format!("git {source}"));
        GitInfo {
            head: Some("c0ffee".into()),
            branch: Some("topic".into()),
            dirty: Some(false),
            changed_files: Vec::new(),
        }
    }
    fn snapshot(&self, s: &Utf8Path, d: &Utf8Path, _: Option<&Utf8Path>) -> io::Result<()> {
        self.call(format!("snapshot {s} {d}"));
        let under = |root: &Utf8PathBuf| d.starts_with(root);
        if self.fail_snapshot || self.fail_snapshot_under.as_ref().is_some_and(under) {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
        }
        Ok(())
    }
    fn snapshot_kept(
        &self,
        s: &Utf8Path,
        d: &Utf8Path,
        _: Option<&Utf8Path>,
        kept: &KeptLayout,
    ) -> io::Result<PendingObjects> {
        self.call(format!("snapshot_kept {s} {d} {}", kept.manifest));
        Ok(self.pending.lock().unwrap().take().unwrap_or_default())
    }
    fn materialize(&self, kept: &KeptLayout, d: &Utf8Path) -> io::Result<()> {
        self.call(format!("materialize {} {d}", kept.manifest));
        if self.fail_materialize {
            return Err(io::Error::other("object 00 of README was changed"));
        }
        Ok(())
    }
    fn copy_tree(&self, from: &Utf8Path, to: &Utf8Path) -> io::Result<()> {
        self.call(format!("copy {from} {to}"));
        Ok(())
    }
    fn remove_tree(&self, dir: &Utf8Path) -> io::Result<()> {
        self.call(format!("remove {dir}"));
        Ok(())
    }
}

fn copying(tree: Arc<FakeTree>) -> Engine<FakeStore> {
    copying_with(tree, false, None)
}

fn copying_with(tree: Arc<FakeTree>, keep: bool, fallback: Option<&str>) -> Engine<FakeStore> {
    Engine::builder(FakeStore::default())
        .executor(Arc::new(Scripted(HashMap::new())))
        .snapshot(SnapshotPolicy::Copy {
            exclude: None,
            keep,
            fallback: fallback.map(Utf8PathBuf::from),
        })
        .snapshotter(tree)
        .build()
}

const WRITABLE: &str = "[[job]]\nid = \"r\"\ncommand = \"x\"\n\
                        [[job]]\nid = \"w\"\ncommand = \"x\"\nwritable_workspace = true\n";

#[tokio::test]
async fn git_and_every_copy_go_through_the_snapshotter() {
    let tree = Arc::new(FakeTree::default());
    let e = copying(tree.clone());
    let rec = e
        .run(RunRequest::new(all(WRITABLE), "/src"), &NoObserverForTests)
        .await;
    assert_eq!(rec.status, RunStatus::Passed);
    assert_eq!(rec.git_head.as_deref(), Some("c0ffee"));
    assert_eq!(rec.git_branch.as_deref(), Some("topic"), "git's branch");
    let run = format!("/state/runs/{}", rec.run_id);
    assert_eq!(rec.snapshot_dir, format!("{run}/snapshot"));
    assert_eq!(
        tree.calls.lock().unwrap().clone(),
        [
            "git /src".to_owned(),
            format!("snapshot /src {run}/snapshot"),
            format!("copy {run}/snapshot {run}/workspace-w"),
            format!("remove {run}/workspace-w"),
            format!("remove {run}/snapshot"),
        ]
    );
}

#[tokio::test]
async fn a_branch_the_caller_names_wins_over_gits() {
    let tree = Arc::new(FakeTree::default());
    let mut req = RunRequest::new(all(WRITABLE), "/src");
    req.branch = Some("feature/x".into());
    let rec = copying(tree).run(req, &NoObserverForTests).await;
    assert_eq!(rec.git_branch.as_deref(), Some("feature/x"));
}

#[tokio::test]
async fn a_kept_snapshot_stays_and_one_in_the_fallback_folder_does_not() {
    let tree = Arc::new(FakeTree::default());
    let rec = copying_with(tree.clone(), true, Some("/tmp"))
        .run(RunRequest::new(all(WRITABLE), "/src"), &NoObserverForTests)
        .await;
    let run = format!("/state/runs/{}", rec.run_id);
    let calls = tree.calls.lock().unwrap().clone();
    assert_eq!(calls.last().unwrap(), &format!("remove {run}/workspace-w"));
    assert!(!calls.contains(&format!("remove {run}/snapshot")));

    let tree = Arc::new(FakeTree {
        fail_snapshot_under: Some("/state".into()),
        ..FakeTree::default()
    });
    let rec = copying_with(tree.clone(), true, Some("/tmp"))
        .run(RunRequest::new(all(WRITABLE), "/src"), &NoObserverForTests)
        .await;
    assert_eq!(rec.status, RunStatus::Passed);
    let fallback = format!("/tmp/pikaci-snapshot-{}", rec.run_id);
    assert_eq!(rec.snapshot_dir, fallback);
    let calls = tree.calls.lock().unwrap().clone();
    assert!(calls.contains(&format!("copy {fallback} {fallback}-workspace-w")));
    assert_eq!(calls.last().unwrap(), &format!("remove {fallback}"));
}

/// An engine that keeps snapshots, over a store that keeps them as manifests.
fn keeping_manifests(tree: Arc<FakeTree>) -> Engine<FakeStore> {
    Engine::builder(FakeStore {
        keeps_manifests: true,
        ..FakeStore::default()
    })
    .executor(Arc::new(Scripted(HashMap::new())))
    .snapshot(SnapshotPolicy::Copy {
        exclude: None,
        keep: true,
        fallback: Some("/tmp".into()),
    })
    .snapshotter(tree)
    .build()
}

#[tokio::test]
async fn a_snapshot_kept_as_a_manifest_is_made_once_and_its_folder_removed_at_the_end() {
    let tree = Arc::new(FakeTree::default());
    let rec = keeping_manifests(tree.clone())
        .run(RunRequest::new(all(WRITABLE), "/src"), &NoObserverForTests)
        .await;
    assert_eq!(rec.status, RunStatus::Passed);
    let run = format!("/state/runs/{}", rec.run_id);
    assert_eq!(rec.snapshot_dir, format!("{run}/snapshot"));
    assert_eq!(
        tree.calls.lock().unwrap().clone(),
        [
            "git /src".to_owned(),
            format!("snapshot_kept /src {run}/snapshot {run}/snapshot.manifest"),
            format!("copy {run}/snapshot {run}/workspace-w"),
            format!("remove {run}/workspace-w"),
            format!("remove {run}/snapshot"),
        ]
    );
}

/// A kept snapshot's pending object `a` (bytes `alpha`), to be stored in a
/// real objects folder under `root` from the folder `from`.
fn pending_alpha(root: &Utf8Path, from: &Utf8Path) -> (Objects, ObjectId, PendingObjects) {
    use sha2::Digest;
    let objects = Objects::new(root.join("objects"));
    let id = ObjectId::from_digest(sha2::Sha256::digest(b"alpha").into());
    let hold = objects.hold().unwrap();
    let pending = PendingObjects::new(
        objects.clone(),
        vec![("a".into(), id)],
        vec![from.to_owned()],
        hold,
    );
    (objects, id, pending)
}

#[tokio::test]
async fn a_kept_snapshots_new_objects_are_stored_before_its_folder_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Utf8Path::from_path(tmp.path()).unwrap();
    std::fs::create_dir_all(root.join("copy")).unwrap();
    std::fs::write(root.join("copy/a"), "alpha").unwrap();
    let (objects, id, pending) = pending_alpha(root, &root.join("copy"));
    let tree = Arc::new(FakeTree {
        pending: Mutex::new(Some(pending)),
        ..FakeTree::default()
    });
    let rec = keeping_manifests(tree.clone())
        .run(RunRequest::new(all(WRITABLE), "/src"), &NoObserverForTests)
        .await;
    assert_eq!(rec.status, RunStatus::Passed);
    assert_eq!(rec.snapshot_warning, None);
    assert_eq!(std::fs::read(objects.path(&id)).unwrap(), b"alpha");
    let run = format!("/state/runs/{}", rec.run_id);
    assert_eq!(
        tree.calls.lock().unwrap().last().unwrap(),
        &format!("remove {run}/snapshot")
    );
}

#[tokio::test]
async fn a_kept_snapshot_whose_bytes_could_not_be_stored_keeps_its_folder_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Utf8Path::from_path(tmp.path()).unwrap();
    std::fs::create_dir_all(root.join("copy")).unwrap();
    // A job wrote into the copy, and the source moved on: no `alpha` left.
    std::fs::write(root.join("copy/a"), "written by a job").unwrap();
    let (objects, id, pending) = pending_alpha(root, &root.join("copy"));
    let tree = Arc::new(FakeTree {
        pending: Mutex::new(Some(pending)),
        ..FakeTree::default()
    });
    let rec = keeping_manifests(tree.clone())
        .run(RunRequest::new(all(WRITABLE), "/src"), &NoObserverForTests)
        .await;
    assert_eq!(rec.status, RunStatus::Passed, "the jobs' result stands");
    let warning = rec.snapshot_warning.clone().unwrap_or_default();
    assert!(
        warning.contains("incomplete") && warning.contains("the bytes of a "),
        "{warning}"
    );
    assert!(!objects.path(&id).exists());
    let run = format!("/state/runs/{}", rec.run_id);
    let calls = tree.calls.lock().unwrap().clone();
    assert!(
        !calls.contains(&format!("remove {run}/snapshot")),
        "the copy stays for a rerun: {calls:?}"
    );
}

#[tokio::test]
async fn a_rerun_of_a_manifest_makes_its_own_copy_and_a_changed_object_stops_it_before_any_job() {
    let original: RunId = "20260324T161238Z-1a2b3c4d".parse().unwrap();
    let kept = KeptLayout {
        objects: "/state/objects".into(),
        manifest: format!("/state/runs/{original}/snapshot.manifest").into(),
        leftover: None,
    };
    let request = || {
        let mut req = RunRequest::new(all(WRITABLE), "/src");
        req.rerun_of = Some(original.clone());
        req.source = RunSource::Kept(KeptSnapshot {
            of: original.clone(),
            files: KeptFiles::Manifest(kept.clone()),
            git: GitInfo::default(),
        });
        req
    };
    let tree = Arc::new(FakeTree::default());
    let rec = keeping_manifests(tree.clone())
        .run(request(), &NoObserverForTests)
        .await;
    assert_eq!(rec.status, RunStatus::Passed);
    assert_eq!(rec.snapshot_of.as_ref(), Some(&original));
    let run = format!("/state/runs/{}", rec.run_id);
    assert_eq!(rec.snapshot_dir, format!("{run}/snapshot"), "its own copy");
    let calls = tree.calls.lock().unwrap().clone();
    assert_eq!(
        calls[0],
        format!("materialize {} {run}/snapshot", kept.manifest),
        "no git, no new snapshot: {calls:?}"
    );
    assert_eq!(calls.last().unwrap(), &format!("remove {run}/snapshot"));

    let tree = Arc::new(FakeTree {
        fail_materialize: true,
        ..FakeTree::default()
    });
    let rec = keeping_manifests(tree.clone())
        .run(request(), &NoObserverForTests)
        .await;
    assert_eq!(rec.status, RunStatus::Failed);
    assert_eq!(rec.failure_kind, Some(FailureKind::Infrastructure));
    assert!(rec.jobs.is_empty(), "{:?}", rec.jobs);
    let message = rec.message.unwrap_or_default();
    assert!(
        message.starts_with(&format!(
            "could not make the snapshot run {original} kept: "
        )) && message.contains("README was changed"),
        "{message}"
    );
    assert_eq!(
        tree.calls.lock().unwrap().len(),
        1,
        "nothing else was tried"
    );
}

#[tokio::test]
async fn a_rerun_on_a_kept_snapshot_runs_in_it_and_never_changes_or_removes_it() {
    let tree = Arc::new(FakeTree::default());
    let original: RunId = "pikaci-run-123".parse().unwrap();
    let kept_dir = Utf8PathBuf::from("/state/runs/pikaci-run-123/snapshot");
    let mut req = RunRequest::new(all(WRITABLE), "/src");
    req.rerun_of = Some(original.clone());
    req.source = RunSource::Kept(KeptSnapshot {
        of: original.clone(),
        files: KeptFiles::Folder(kept_dir.clone()),
        git: GitInfo {
            head: Some("0ld".into()),
            branch: None,
            dirty: Some(true),
            changed_files: vec!["a.rs".into()],
        },
    });
    let rec = copying(tree.clone()).run(req, &NoObserverForTests).await;
    assert_eq!(rec.status, RunStatus::Passed);
    assert_eq!(rec.snapshot_dir, kept_dir);
    assert_eq!(rec.snapshot_of.as_ref(), Some(&original));
    assert_eq!(rec.rerun_of.as_ref(), Some(&original));
    assert_eq!(
        (rec.git_head.as_deref(), rec.git_dirty),
        (Some("0ld"), Some(true))
    );
    assert_eq!(rec.changed_files, ["a.rs"]);
    let run = format!("/state/runs/{}", rec.run_id);
    // No git, no new snapshot, no removal of the kept one: only the writable
    // job's private copy, made in the rerun's own folder.
    assert_eq!(
        tree.calls.lock().unwrap().clone(),
        [
            format!("copy {kept_dir} {run}/workspace-w"),
            format!("remove {run}/workspace-w"),
        ]
    );
}

#[tokio::test]
async fn a_source_that_cannot_be_snapshotted_fails_the_run_as_infrastructure() {
    let tree = Arc::new(FakeTree {
        fail_snapshot: true,
        ..FakeTree::default()
    });
    let obs = CollectingObserver::default();
    let rec = copying(tree)
        .run(RunRequest::new(all(WRITABLE), "/src"), &obs)
        .await;
    assert_eq!(rec.status, RunStatus::Failed);
    assert_eq!(rec.failure_kind, Some(FailureKind::Infrastructure));
    assert_eq!(
        rec.message.as_deref(),
        Some("could not snapshot the source: disk full")
    );
    assert!(rec.jobs.is_empty());
    assert_eq!(kinds(&obs.events()), ["run_started", "run_finished failed"]);
}

#[tokio::test(flavor = "current_thread")]
async fn git_and_copies_never_block_the_runtime() {
    let (open, gate) = std::sync::mpsc::channel();
    let tree = Arc::new(FakeTree {
        gate: Some(Mutex::new(gate)),
        ..FakeTree::default()
    });
    let e = copying(tree.clone());
    let run = e.run(RunRequest::new(all(WRITABLE), "/src"), &NoObserverForTests);
    // The run is polled first; if it called git on this, the runtime's only
    // thread, the gate would never open.
    let (rec, ()) = tokio::join!(run, async {
        for _ in 0..5 {
            open.send(()).unwrap();
        }
    });
    assert_eq!(rec.status, RunStatus::Passed);
    assert_eq!(tree.calls.lock().unwrap().len(), 5);
}

/// `count` jobs `j0`, `j1`, ... with no needs.
fn many(count: usize) -> JobSelection {
    let text: String = (0..count)
        .map(|i| format!("[[job]]\nid = \"j{i}\"\ncommand = \"x\"\n"))
        .collect();
    all(&text)
}

#[tokio::test]
async fn a_thousand_jobs_are_not_a_thousand_rewrites_and_the_last_is_saved_first() {
    /// Checks, when `run_finished` arrives, that the store holds that record.
    struct SavedBeforeAnnounced(Arc<Mutex<Vec<RunRecord>>>, Mutex<bool>);
    impl RunObserver for SavedBeforeAnnounced {
        fn event(&self, event: &LifecycleEvent) {
            if let LifecycleEvent::RunFinished { run } = event {
                let saved = self.0.lock().unwrap();
                *self.1.lock().unwrap() = saved.last() == Some(run);
            }
        }
    }
    let store = FakeStore::default();
    let saved = store.saved.clone();
    let e = engine(store, &[]);
    let obs = SavedBeforeAnnounced(saved.clone(), Mutex::new(false));
    let rec = e.run(RunRequest::new(many(1000), "/src"), &obs).await;
    assert_eq!(rec.status, RunStatus::Passed);
    assert_eq!(rec.jobs.len(), 1000);
    assert!(
        *obs.1.lock().unwrap(),
        "run_finished came before its record was saved"
    );
    // Two saves per job before: 2,002. Now the saves follow time, not jobs.
    let saves = saved.lock().unwrap().len();
    assert!(saves <= 10, "{saves} saves for 1,000 jobs");
}

#[tokio::test(start_paused = true)]
async fn a_long_job_is_seen_running_and_changes_are_saved_once_per_interval() {
    let acts = [
        ("a", Act::Sleep(Duration::from_secs(10))),
        ("b", Act::Sleep(Duration::from_millis(10))),
        ("c", Act::Sleep(Duration::from_millis(10))),
    ];
    let e = engine(FakeStore::default(), &acts);
    let rec = e
        .run(RunRequest::new(all(THREE), "/src"), &NoObserver)
        .await;
    assert_eq!(rec.status, RunStatus::Passed);
    let saved = e.store().saved.lock().unwrap().clone();
    // The first record, job a running (saved at once: nothing was saved for
    // a while), then a's end with b's start and end, c... within intervals.
    assert_eq!(saved[0].jobs.len(), 0);
    assert_eq!(saved[1].jobs.len(), 1);
    assert_eq!(saved[1].jobs[0].status, RunStatus::Running);
    assert_eq!(saved.last().unwrap(), &rec);
    assert!(saved.len() <= 5, "{} saves", saved.len());
}

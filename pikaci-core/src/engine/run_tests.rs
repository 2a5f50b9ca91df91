//! Engine tests with a fake store and scripted executors: no processes, no sleeps.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use camino::Utf8Path;
use futures::future::BoxFuture;

use super::*;
use crate::engine::observer::CollectingObserver;
use crate::engine::seams::VecSink;

#[derive(Default)]
struct FakeStore {
    saved: Mutex<Vec<RunRecord>>,
    fail: bool,
    /// Ids offered to `claim_run`; the first `taken` of them are refused.
    claims: Mutex<Vec<RunId>>,
    taken: usize,
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
    fn claim_run(&self, run: &RunId) -> Result<bool, io::Error> {
        let mut claims = self.claims.lock().unwrap();
        claims.push(run.clone());
        Ok(claims.len() > self.taken)
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
                Act::WaitForCancel => {
                    ctx.cancel.cancelled().await;
                    JobOutcome::failed(FailureKind::Cancelled, None, "cancelled")
                }
            }
        })
    }
}

fn pipeline(text: &str) -> Pipeline {
    Pipeline::parse(text, Utf8Path::new("pikaci.toml")).unwrap()
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
async fn records_running_first_then_every_step_and_events_in_order() {
    let e = engine(FakeStore::default(), &[]);
    let obs = CollectingObserver::default();
    let mut req = RunRequest::new(pipeline(THREE), "/src");
    req.target = Some("t".parse().unwrap());
    let rec = e.run(req, &obs).await.unwrap();
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
    // A start and an end save per job, plus the first and the last.
    assert_eq!(saved.len(), 6);
    assert_eq!(saved[1].jobs[0].status, RunStatus::Running);
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
    let rec = e
        .run(RunRequest::new(pipeline(THREE), "/src"), &obs)
        .await
        .unwrap();
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
    let mut req = RunRequest::new(pipeline(THREE), "/src");
    req.target = Some("t".parse().unwrap());
    req.parallelism = 2;
    // With one job at a time the barrier would never open; time is paused, so
    // the timeout fires at once instead of hanging.
    let rec = tokio::time::timeout(Duration::from_secs(60), e.run(req, &NoObserverForTests))
        .await
        .expect("both jobs ran together")
        .unwrap();
    assert_eq!(rec.status, RunStatus::Passed);
}

struct NoObserverForTests;
impl RunObserver for NoObserverForTests {
    fn event(&self, _: &LifecycleEvent) {}
}

#[tokio::test]
async fn cancel_stops_the_running_job_and_skips_the_rest() {
    let e = engine(FakeStore::default(), &[("a", Act::WaitForCancel)]);
    let req = RunRequest::new(pipeline(THREE), "/src");
    let cancel = req.cancel.clone();
    let obs = CollectingObserver::default();
    let run = e.run(req, &obs);
    let (rec, ()) = tokio::join!(run, async {
        tokio::task::yield_now().await;
        cancel.cancel();
    });
    let rec = rec.unwrap();
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
    let rec = e
        .run(RunRequest::new(pipeline(THREE), "/src"), &obs)
        .await
        .unwrap();
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
        .run(RunRequest::new(p, "/src"), &NoObserverForTests)
        .await
        .unwrap();
    assert_eq!(rec.jobs[0].failure_kind, Some(FailureKind::Infrastructure));
    assert!(
        rec.jobs[0]
            .message
            .as_deref()
            .unwrap()
            .contains("\"incus\"")
    );
}

#[tokio::test]
async fn unknown_selections_are_errors_before_anything_is_written() {
    let e = engine(FakeStore::default(), &[]);
    let mut req = RunRequest::new(pipeline(THREE), "/src");
    req.target = Some("nope".parse().unwrap());
    assert!(matches!(
        e.run(req, &NoObserverForTests).await,
        Err(EngineError::Select(_))
    ));
    assert!(e.store().saved.lock().unwrap().is_empty());
}

#[tokio::test]
async fn rerun_of_and_filters_are_recorded() {
    let e = engine(FakeStore::default(), &[]);
    let mut req = RunRequest::new(pipeline(THREE), "/src");
    req.jobs = vec!["c".parse().unwrap()];
    req.rerun_of = Some("20260324T161238Z-1a2b3c4d".parse().unwrap());
    let rec = e.run(req, &NoObserverForTests).await.unwrap();
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
        .run(
            RunRequest::new(pipeline(THREE), "/src"),
            &NoObserverForTests,
        )
        .await
        .unwrap();
    let claims = e.store().claims.lock().unwrap().clone();
    assert_eq!(claims.len(), 3);
    assert_eq!(rec.run_id, claims[2]);
    assert_eq!(e.store().saved.lock().unwrap()[0].run_id, claims[2]);
}

//! `PageEnv`: a database on a manual clock, a state root and a data folder,
//! read and write tokens, helpers that make branches, suites, lanes and
//! pikaci runs at chosen times, and the server on a real socket for the
//! browser.

use std::io::Write;
use std::sync::Arc;

use camino::Utf8PathBuf;
use jiff::{SignedDuration, Timestamp};
use pika_news_core::clock::ManualClock;
use pika_news_core::data_dir::DataDir;
use pika_news_core::db::{
    BranchId, Db, LaneRunId, LaneStatus, NewLane, NewNightly, NewNightlyLane, NightlyRunId, Role,
    SuiteId, SuiteStatus,
};
use pika_news_core::lanes::lane_source::LaneSource;
use pika_news_web::{AppState, router};
use pikaci_core::{FailureKind, JobRecord, LogFile, RunRecord, RunStatus};
use pikaci_store::Store;

pub(crate) struct PageEnv {
    _dir: tempfile::TempDir,
    pub(crate) db: Db,
    pub(crate) clock: ManualClock,
    pub(crate) store: Store,
    pub(crate) data_dir: DataDir,
    pub(crate) read: String,
    pub(crate) write: String,
}

/// When the tests' world begins.
pub(crate) const T0: &str = "2026-03-24T16:00:00Z";

/// A job of a test run: its id, status, and seconds from the run's start
/// to its start and to its end (none: still running).
pub(crate) struct TestJob<'a> {
    pub(crate) id: &'a str,
    pub(crate) status: RunStatus,
    pub(crate) started: i64,
    pub(crate) finished: Option<i64>,
    pub(crate) description: &'a str,
}

impl PageEnv {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();
        let clock = ManualClock::new(T0.parse().unwrap());
        let db = Db::open_with_clock(&root.join("news.sqlite"), Arc::new(clock.clone())).unwrap();
        let read = db.create_token("reader", Role::Read).unwrap();
        let write = db.create_token("writer", Role::Write).unwrap();
        let store = Store::open(root.join("pikaci-state/sledtools-pika"));
        let data_dir = DataDir::new(root.join("data"));
        Self {
            _dir: dir,
            db,
            clock,
            store,
            data_dir,
            read,
            write,
        }
    }

    pub(crate) fn state(&self) -> AppState {
        AppState::new(self.db.clone(), self.store.root().path().to_owned(), false)
            .with_data_dir(self.data_dir.clone())
            .with_repo("sledtools/pika", "main")
    }

    /// Serves the app on 127.0.0.1:0; returns its base URL.
    pub(crate) async fn serve(&self) -> (String, tokio::task::JoinHandle<()>) {
        let (addr, server) = crate::support::serve(router(self.state())).await;
        (format!("http://{addr}"), server)
    }

    pub(crate) fn advance(&self, secs: i64) {
        self.clock.advance(SignedDuration::from_secs(secs));
    }

    pub(crate) fn now(&self) -> Timestamp {
        use pikaci_core::Clock as _;
        self.clock.now()
    }

    pub(crate) async fn branch(&self, name: &str) -> BranchId {
        self.db
            .upsert_branch(name, &"c0ffee".repeat(7)[..40])
            .await
            .unwrap()
    }

    pub(crate) async fn suite(&self, branch: BranchId) -> SuiteId {
        self.db
            .insert_suite(
                branch,
                &"c0ffee".repeat(7)[..40],
                SuiteStatus::Running,
                None,
            )
            .await
            .unwrap()
    }

    pub(crate) async fn lane(&self, suite: SuiteId, id: &str, title: &str) -> LaneRunId {
        self.db
            .insert_lane(NewLane {
                suite_id: suite,
                lane: id.into(),
                title: title.into(),
                concurrency_group: None,
                command: None,
                timeout_secs: None,
            })
            .await
            .unwrap()
    }

    pub(crate) async fn set(
        &self,
        lane: LaneRunId,
        status: LaneStatus,
        kind: Option<FailureKind>,
        message: Option<&str>,
    ) {
        self.db
            .set_lane_status(lane, status, kind, message)
            .await
            .unwrap();
    }

    pub(crate) async fn refresh(&self, suite: SuiteId) {
        self.db.refresh_suite_status(suite).await.unwrap();
    }

    /// A pikaci run started at `at` with these jobs, recorded on `lane`.
    pub(crate) async fn run(
        &self,
        lane: LaneRunId,
        run_id: &str,
        at: Timestamp,
        jobs: &[TestJob<'_>],
    ) -> RunRecord {
        let mut record = RunRecord::for_test(run_id);
        record.created_at = at;
        let secs = |s: i64| at.checked_add(SignedDuration::from_secs(s)).unwrap();
        record.jobs = jobs
            .iter()
            .map(|j| {
                let mut r = JobRecord::for_test(j.id, secs(j.started));
                r.status = j.status;
                r.description = j.description.into();
                r.finished_at = j.finished.map(secs);
                // A failed job's command exited as a test's does.
                if j.status == RunStatus::Failed {
                    r.exit_code = Some(101);
                    r.failure_kind = Some(FailureKind::TestFailure);
                }
                r
            })
            .collect();
        let running = jobs.iter().any(|j| j.status == RunStatus::Running);
        record.status = if running {
            RunStatus::Running
        } else if jobs.iter().any(|j| j.status == RunStatus::Failed) {
            RunStatus::Failed
        } else {
            RunStatus::Passed
        };
        record.finished_at =
            (!running).then(|| secs(jobs.iter().filter_map(|j| j.finished).max().unwrap_or(0)));
        self.store.persist_run_record(&record).unwrap();
        self.db.set_lane_pikaci_run(lane, run_id).await.unwrap();
        record
    }

    /// Appends `bytes` to a job's log.
    pub(crate) fn write_log(&self, record: &RunRecord, job: &str, file: LogFile, bytes: &[u8]) {
        self.store
            .open_job_log(&record.run_id, &job.parse().unwrap(), file)
            .unwrap()
            .write_all(bytes)
            .unwrap();
    }

    /// Deletes a job's log and its timestamp sidecar; returns the log's path.
    pub(crate) fn remove_job_log(
        &self,
        record: &RunRecord,
        job: &str,
        file: LogFile,
    ) -> Utf8PathBuf {
        let root = self.store.root();
        let job = job.parse().unwrap();
        let path = root.job_log(&record.run_id, &job, file);
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(root.job_log_times(&record.run_id, &job, file)).unwrap();
        path
    }

    /// Appends `bytes` to a lane run's own log.
    pub(crate) fn write_lane_log(&self, lane: LaneRunId, bytes: &[u8]) {
        let path = self.data_dir.lane_log(lane);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
    }
}

/// The standard scene: `main` with an earlier passing suite and a latest one
/// of ten lanes (nine passed, one failed; queued 2m 08s, ran 24m 31s); a
/// running branch with hostile names; a branch with no runs.
pub(crate) struct Scene {
    pub(crate) main: BranchId,
    pub(crate) latest: SuiteId,
    pub(crate) older: SuiteId,
    pub(crate) failed_lane: LaneRunId,
    /// The pikaci run of `failed_lane`: jobs `fmt` (passed) and `test`
    /// (failed, with a three-line guest log and a host log).
    pub(crate) failed_run: RunRecord,
    pub(crate) hostile: BranchId,
    pub(crate) hostile_lane: LaneRunId,
    pub(crate) empty: BranchId,
}

/// What hostile text tries: markup, an attribute break-out, a script.
pub(crate) const HOSTILE: &str =
    "x\"'><img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>&amp;";

pub(crate) async fn scene(env: &PageEnv) -> Scene {
    let main = env.branch("main").await;
    // An earlier suite that passed.
    let older = env.suite(main).await;
    let l = env.lane(older, "pre-merge", "pre-merge checks").await;
    env.advance(5);
    env.set(l, LaneStatus::Running, None, None).await;
    env.advance(60);
    env.set(l, LaneStatus::Passed, None, Some("1 of 1 jobs passed"))
        .await;
    env.refresh(older).await;
    env.advance(3600);
    // The latest: ten lanes, queued 2m 08s, ran 24m 31s.
    let latest = env.suite(main).await;
    let mut lanes = Vec::new();
    for i in 0..10 {
        lanes.push(
            env.lane(latest, &format!("lane-{i}"), &format!("lane number {i}"))
                .await,
        );
    }
    env.advance(128);
    let run_start = env.now();
    for &l in &lanes {
        env.set(l, LaneStatus::Running, None, None).await;
    }
    for (i, &l) in lanes.iter().enumerate().take(9) {
        let id = format!("20260324T170{i}00Z-0000000{i}");
        let rec = env
            .run(
                l,
                &id,
                run_start,
                &[TestJob {
                    id: "build",
                    status: RunStatus::Passed,
                    started: 1,
                    finished: Some(61 + i as i64),
                    description: "cargo build",
                }],
            )
            .await;
        env.write_log(&rec, "build", LogFile::Guest, b"compiling\nfinished\n");
    }
    env.advance(600);
    for &l in lanes.iter().take(9) {
        env.set(l, LaneStatus::Passed, None, Some("1 of 1 jobs passed"))
            .await;
    }
    let failed_lane = lanes[9];
    let failed_run = env
        .run(
            failed_lane,
            "20260324T170900Z-00000009",
            run_start,
            &[
                TestJob {
                    id: "fmt",
                    status: RunStatus::Passed,
                    started: 1,
                    finished: Some(4),
                    description: "rustfmt",
                },
                TestJob {
                    id: "test",
                    status: RunStatus::Failed,
                    started: 5,
                    finished: Some(1470),
                    description: "cargo test",
                },
            ],
        )
        .await;
    env.write_log(
        &failed_run,
        "test",
        LogFile::Guest,
        b"running 3 tests\ntest a ... ok\n\x1b[31mtest b ... FAILED\x1b[0m\n",
    );
    env.write_log(
        &failed_run,
        "test",
        LogFile::Host,
        b"[pikaci] command exited with 101\n",
    );
    env.advance(24 * 60 + 31 - 600);
    env.set(
        failed_lane,
        LaneStatus::Failed,
        Some(FailureKind::TestFailure),
        Some("1 of 2 jobs failed: test"),
    )
    .await;
    env.refresh(latest).await;

    // A running branch whose names and texts are hostile.
    let hostile = env.branch(&format!("feature/{HOSTILE}")).await;
    let hs = env.suite(hostile).await;
    let hostile_lane = env.lane(hs, "hostile", &format!("title {HOSTILE}")).await;
    env.set(
        hostile_lane,
        LaneStatus::Running,
        None,
        Some(&format!("message {HOSTILE}")),
    )
    .await;
    let rec = env
        .run(
            hostile_lane,
            "20260324T171000Z-0000000a",
            env.now(),
            &[TestJob {
                id: "evil",
                status: RunStatus::Running,
                started: 0,
                finished: None,
                description: HOSTILE,
            }],
        )
        .await;
    env.write_log(
        &rec,
        "evil",
        LogFile::Guest,
        format!("log {HOSTILE}\n\x1b[32m{HOSTILE}\x1b[0m\n").as_bytes(),
    );
    env.refresh(hs).await;
    let empty = env
        .db
        .upsert_branch("quiet", &"d".repeat(40))
        .await
        .unwrap();
    env.advance(90);
    Scene {
        main,
        latest,
        older,
        failed_lane,
        failed_run,
        hostile,
        hostile_lane,
        empty,
    }
}

/// A nightly run of `main` with two lanes: one passed (with a pikaci run and
/// a log), one failed. Returns its id and its lanes.
pub(crate) async fn nightly(env: &PageEnv, main: BranchId) -> (NightlyRunId, LaneRunId, LaneRunId) {
    let lane = |id: &str| NewNightlyLane {
        lane: id.into(),
        title: format!("nightly {id}"),
        entrypoint: format!("just {id}"),
        concurrency_group: None,
        command: None,
        timeout_secs: None,
    };
    let id = env
        .db
        .create_nightly(NewNightly {
            branch_id: main,
            head: "e".repeat(40),
            source_ref: "refs/heads/main".into(),
            scheduled_for: "2026-03-25T03:00:00Z".into(),
            lane_source: Some(LaneSource::HeadPipeline),
            lanes: vec![lane("android"), lane("ios")],
        })
        .await
        .unwrap()
        .unwrap();
    let run = env.db.nightly(id).await.unwrap().unwrap();
    let (a, b) = (run.lanes[0].run.id, run.lanes[1].run.id);
    env.advance(30);
    env.set(a, LaneStatus::Running, None, None).await;
    env.set(b, LaneStatus::Running, None, None).await;
    let rec = env
        .run(
            a,
            "20260325T030000Z-0000000b",
            env.now(),
            &[TestJob {
                id: "emulator",
                status: RunStatus::Passed,
                started: 1,
                finished: Some(100),
                description: "ui tests",
            }],
        )
        .await;
    env.write_log(&rec, "emulator", LogFile::Guest, b"booting\nall green\n");
    env.advance(100);
    env.set(a, LaneStatus::Passed, None, None).await;
    env.set(
        b,
        LaneStatus::Failed,
        Some(FailureKind::Timeout),
        Some("timed out"),
    )
    .await;
    env.refresh(run.suite_id).await;
    (id, a, b)
}

/// A page answer: status, headers and the body as text.
pub(crate) struct Answer {
    pub(crate) status: axum::http::StatusCode,
    pub(crate) headers: axum::http::HeaderMap,
    pub(crate) body: String,
}

/// `method uri` with `headers` and `body` through a router over `env`.
pub(crate) async fn request(
    env: &PageEnv,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let (status, headers, bytes) = crate::support::oneshot(
        router(env.state()),
        method,
        uri,
        headers,
        axum::body::Body::from(body.to_owned()),
    )
    .await;
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

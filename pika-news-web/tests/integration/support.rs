//! `TestApp`: a temporary database and state root, tokens of each kind, and
//! the router to send requests to without a socket; [`oneshot`] to send one
//! request to any router, and [`serve`] to put one on a real socket.

use std::io::Write;
use std::net::SocketAddr;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use camino::Utf8PathBuf;
use http_body_util::BodyExt;
use pika_news_core::data_dir::DataDir;
use pika_news_core::db::{
    BranchId, Db, LaneRunId, LaneStatus, NewLane, NewNightly, NewNightlyLane, NightlyRunId, Role,
    SuiteStatus,
};
use pika_news_web::{AppState, router};
use pikaci_core::{FailureKind, LogFile, RunRecord, RunStatus};
use pikaci_store::Store;
use tokio::task::JoinHandle;
use tower::ServiceExt;

pub(crate) struct TestApp {
    _dir: tempfile::TempDir,
    pub(crate) db: Db,
    pub(crate) store: Store,
    pub(crate) read: String,
    pub(crate) write: String,
    pub(crate) revoked: String,
    pub(crate) public_read: bool,
    /// `ph login`'s state, shared by every request: [`login_admin`] is a
    /// configured admin.
    pub(crate) logins: std::sync::Arc<pika_news_core::login::Logins>,
}

/// The key of the configured admin every [`TestApp`] has.
pub(crate) fn login_admin() -> pika_news_core::login::testing::TestSigner {
    pika_news_core::login::testing::TestSigner::from_seed(1)
}

/// A finished run with one job `build` and both logs, in the state root.
pub(crate) const RUN: &str = "20260324T161238Z-1a2b3c4d";

/// An example `prepared-outputs.json`, shaped as the earlier pikaci writes it.
pub(crate) const PREPARED_OUTPUTS: &str = r#"{"schema_version":1,"outputs":[{"node_id":"prepare-rust","installable":".#deps",
"output_name":"workspace-deps","realized_path":"/nix/store/abc-deps","protocol":"nix_store_path_v1",
"payload":{"schema_version":1,"kind":"cargo_workspace","entrypoints":[]}}]}"#;

impl TestApp {
    pub(crate) fn new() -> Self {
        Self::with_public_read(false)
    }

    /// Gives [`RUN`] a `prepared-outputs.json` ([`PREPARED_OUTPUTS`]).
    pub(crate) fn write_prepared_outputs(&self) {
        let run: pikaci_core::RunId = RUN.parse().unwrap();
        std::fs::write(self.store.root().prepared_outputs(&run), PREPARED_OUTPUTS).unwrap();
    }

    pub(crate) fn with_public_read(public_read: bool) -> Self {
        Self::build(public_read, None)
    }

    /// A test app whose rows and answers all read `clock`: for answers
    /// that say how long something has waited.
    pub(crate) fn with_clock(clock: std::sync::Arc<dyn pika_news_core::clock::Clock>) -> Self {
        Self::build(false, Some(clock))
    }

    fn build(
        public_read: bool,
        clock: Option<std::sync::Arc<dyn pika_news_core::clock::Clock>>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();
        let path = root.join("news.sqlite");
        let db = match clock {
            Some(clock) => Db::open_with_clock(&path, clock).unwrap(),
            None => Db::open(&path).unwrap(),
        };
        let read = db.create_token("reader", Role::Read).unwrap();
        let write = db.create_token("writer", Role::Write).unwrap();
        let revoked = db.create_token("old", Role::Admin).unwrap();
        db.revoke_token("old").unwrap();
        let store = Store::open(root.join("pikaci-state/sledtools-pika"));
        let mut record = RunRecord::for_test(RUN);
        record.status = RunStatus::Failed;
        store.persist_run_record(&record).unwrap();
        let job = &record.jobs[0].id;
        store
            .open_job_log(&record.run_id, job, LogFile::Host)
            .unwrap()
            .write_all(b"[pikaci] ran cargo test\n")
            .unwrap();
        store
            .open_job_log(&record.run_id, job, LogFile::Guest)
            .unwrap()
            .write_all(b"line 1\nline 2\n\x1b[31merror\x1b[0m: boom\n")
            .unwrap();
        Self {
            _dir: dir,
            db,
            store,
            read,
            write,
            revoked,
            public_read,
            logins: std::sync::Arc::new(pika_news_core::login::Logins::new(
                pika_news_core::login::LoginPolicy::default(),
                [login_admin().npub()],
            )),
        }
    }

    pub(crate) fn app(&self) -> Router {
        router(self.state())
    }

    /// The state [`app`](Self::app) serves: to share one between requests
    /// (live streams share their followers through it).
    pub(crate) fn state(&self) -> AppState {
        AppState::new(
            self.db.clone(),
            self.store.root().path().to_owned(),
            self.public_read,
        )
        .with_data_dir(self.data_dir())
        .with_repo("sledtools/pika", "main")
        .with_logins(self.logins.clone())
    }

    /// Sends a request with a JSON body; returns the status and the body
    /// parsed as JSON (`null` when it is not).
    pub(crate) async fn send_json(
        &self,
        method: &str,
        uri: &str,
        auth: Option<&str>,
        body: &serde_json::Value,
    ) -> (StatusCode, serde_json::Value) {
        let mut headers = vec![("content-type", "application/json")];
        headers.extend(auth.map(|a| ("authorization", a)));
        let (status, _, bytes) = oneshot(
            self.app(),
            method,
            uri,
            &headers,
            Body::from(body.to_string()),
        )
        .await;
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    /// A signed login event of [`login_admin`] over a fresh challenge, for
    /// `{prefix}/auth/verify`, as the body `ph` posts.
    pub(crate) async fn admin_login_body(&self, prefix: &str) -> serde_json::Value {
        let (_, c) = self
            .send_json(
                "POST",
                &format!("{prefix}/auth/challenge"),
                None,
                &serde_json::Value::Null,
            )
            .await;
        let challenge = c["challenge"].as_str().expect("a challenge");
        let now = jiff::Timestamp::now()
            .as_second()
            .try_into()
            .expect("after 1970");
        let url = format!("http://127.0.0.1{prefix}/auth/verify");
        serde_json::json!({ "event": login_admin().login_json(challenge, &url, now) })
    }

    /// The data folder [`state`](Self::state) uses: `data/` beside the
    /// database.
    pub(crate) fn data_dir(&self) -> DataDir {
        DataDir::new(self.store.root().path().parent().unwrap().join("data"))
    }

    /// Writes a lane run's own log (replacing any there).
    pub(crate) fn write_lane_log(&self, lane: LaneRunId, bytes: &[u8]) {
        let log = self.data_dir().lane_log(lane);
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        std::fs::write(log, bytes).unwrap();
    }

    /// Appends `bytes` to the guest log of `RUN`'s first job.
    pub(crate) fn append_guest(&self, bytes: &[u8]) {
        let record = self
            .store
            .run(&RUN.parse().unwrap())
            .unwrap()
            .record()
            .unwrap();
        self.store
            .open_job_log(&record.run_id, &record.jobs[0].id, LogFile::Guest)
            .unwrap()
            .write_all(bytes)
            .unwrap();
    }

    /// A branch `feature/x` with one suite and a lane that ran pikaci run `RUN`,
    /// and a second lane without a pikaci run. Returns (branch id, lane ids).
    pub(crate) async fn branch(&self) -> (BranchId, LaneRunId, LaneRunId) {
        let branch = self
            .db
            .upsert_branch("feature/x", &"a".repeat(40))
            .await
            .unwrap();
        let suite = self
            .db
            .insert_suite(branch, &"a".repeat(40), SuiteStatus::Running, None)
            .await
            .unwrap();
        let with_run = self
            .db
            .insert_lane(NewLane {
                suite_id: suite,
                lane: "pre-merge".into(),
                title: "pre-merge checks".into(),
                concurrency_group: None,
                command: None,
                timeout_secs: None,
            })
            .await
            .unwrap();
        self.db.set_lane_pikaci_run(with_run, RUN).await.unwrap();
        self.db
            .set_lane_status(
                with_run,
                LaneStatus::Failed,
                Some(FailureKind::TestFailure),
                Some("1 of 1 jobs failed"),
            )
            .await
            .unwrap();
        let without = self
            .db
            .insert_lane(NewLane {
                suite_id: suite,
                lane: "lint".into(),
                title: "lint".into(),
                concurrency_group: None,
                command: None,
                timeout_secs: None,
            })
            .await
            .unwrap();
        (branch, with_run, without)
    }

    /// A nightly run of `main` with two lanes: `nightly_a` failed (a test
    /// failure) and `nightly_b` queued. Returns (nightly run id, lane ids).
    pub(crate) async fn nightly(&self) -> (NightlyRunId, LaneRunId, LaneRunId) {
        let head = "c".repeat(40);
        let branch_id = self.db.upsert_branch("main", &head).await.unwrap();
        let lane = |id: &str| NewNightlyLane {
            lane: id.into(),
            title: id.replace('_', "-"),
            entrypoint: format!("just {id}"),
            concurrency_group: None,
            command: Some(format!(r#"{{"argv":["just","{id}"]}}"#)),
            timeout_secs: None,
        };
        let id = self
            .db
            .create_nightly(NewNightly {
                branch_id,
                head,
                source_ref: "refs/heads/main".into(),
                scheduled_for: "2026-03-24T08:00:00Z".into(),
                lane_source: None,
                lanes: vec![lane("nightly_a"), lane("nightly_b")],
            })
            .await
            .unwrap()
            .expect("a new slot");
        let run = self.db.nightly(id).await.unwrap().unwrap();
        let (a, b) = (run.lanes[0].run.id, run.lanes[1].run.id);
        self.db
            .set_lane_status(
                a,
                LaneStatus::Failed,
                Some(FailureKind::TestFailure),
                Some("1 of 1 jobs failed"),
            )
            .await
            .unwrap();
        self.db.refresh_suite_status(run.suite_id).await.unwrap();
        (id, a, b)
    }

    /// Sends a request; returns the status and the body parsed as JSON.
    pub(crate) async fn send(
        &self,
        method: &str,
        uri: &str,
        auth: Option<&str>,
    ) -> (StatusCode, serde_json::Value) {
        let headers: Vec<_> = auth.map(|a| ("authorization", a)).into_iter().collect();
        let (status, _, bytes) = oneshot(self.app(), method, uri, &headers, Body::empty()).await;
        let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "{uri}: body is not JSON: {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, json)
    }

    pub(crate) async fn get(&self, uri: &str) -> (StatusCode, serde_json::Value) {
        let auth = format!("Bearer {}", self.read);
        self.send("GET", uri, Some(&auth)).await
    }
}

/// Sends one request to `router` without a socket; returns the status, the
/// headers and the whole body.
pub(crate) async fn oneshot(
    router: Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Body,
) -> (StatusCode, HeaderMap, Bytes) {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = router.oneshot(req.body(body).unwrap()).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, bytes)
}

/// Serves `app` on 127.0.0.1:0; returns the address it listens on.
pub(crate) async fn serve(app: Router) -> (SocketAddr, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (addr, server)
}

/// Bash for a stand-in `pikaci`: writes `run`'s record naming this very
/// process (its pid and start time) as owner, as pikaci does before it
/// announces a run, so a lane takes the run as its own. Needs
/// `PIKACI_STATE_ROOT`.
pub(crate) fn own_run_record_script(run: &str) -> String {
    let mut record = RunRecord::for_test(run);
    record.owner = Some(pikaci_core::RunOwner {
        pid: 999_999_991,
        host: pikaci_core::this_host_name(),
        start_ticks: Some(999_999_992),
        lock: false,
    });
    let json = serde_json::to_string(&record).unwrap();
    format!(
        "mkdir -p \"$PIKACI_STATE_ROOT/runs/{run}\"\n\
         ticks=$(sed 's/.*) //' /proc/$$/stat | cut -d' ' -f20)\n\
         printf '%s' '{json}' | sed \"s/999999991/$$/; s/999999992/$ticks/\" > \"$PIKACI_STATE_ROOT/runs/{run}/run.json\"\n"
    )
}

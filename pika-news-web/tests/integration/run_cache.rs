//! The run route answers from its cache only while `run.json` is the file
//! the record was read from, and a cached running record whose owner died
//! is still reported interrupted.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::StatusCode;
use pika_news_web::router;
use pikaci_core::{Liveness, RunOwner, RunStatus};

use crate::support::{RUN, TestApp, oneshot};

struct Switch(AtomicBool);

impl Liveness for Switch {
    fn this_host(&self) -> &str {
        "here"
    }
    fn is_alive(&self, _pid: u32) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

async fn get(app: &axum::Router, token: &str) -> serde_json::Value {
    let auth = format!("Bearer {token}");
    let (status, headers, body) = oneshot(
        app.clone(),
        "GET",
        &format!("/news/api/forge/pikaci/run/{RUN}"),
        &[("authorization", &auth)],
        axum::body::Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test]
async fn a_rewritten_record_is_served_at_once_and_a_dead_owner_is_noticed() {
    rewritten_and_dead_owner(false).await;
}

#[tokio::test]
async fn without_inotify_the_record_identity_decides() {
    rewritten_and_dead_owner(true).await;
}

async fn rewritten_and_dead_owner(without_watch: bool) {
    let app = TestApp::new();
    let alive = Arc::new(Switch(AtomicBool::new(true)));
    let mut state = app.state();
    if without_watch {
        state = state.without_disk_watch();
    }
    state = state.with_liveness(alive.clone());
    let router = router(state.clone());
    let first = get(&router, &app.read).await;
    assert_eq!(first["status"], "failed");
    assert_eq!(
        get(&router, &app.read).await,
        first,
        "the same, from the cache"
    );
    assert_eq!(state.cached_records(), 1);

    // Rewritten (same size or not): a new file, served at once.
    let run = app.store.run(&RUN.parse().unwrap()).unwrap();
    let mut r = run.record().unwrap();
    r.status = RunStatus::Running;
    r.finished_at = None;
    r.owner = Some(RunOwner {
        pid: 4242,
        host: "here".into(),
        start_ticks: None,
        lock: false,
    });
    r.jobs[0].status = RunStatus::Running;
    app.store.persist_run_record(&r).unwrap();
    assert_eq!(get(&router, &app.read).await["status"], "running");
    assert_eq!(get(&router, &app.read).await["status"], "running");

    // Its owner dies: the cached record is not trusted, the run is interrupted.
    alive.0.store(false, Ordering::SeqCst);
    let seen = get(&router, &app.read).await;
    assert_eq!(seen["status"], "failed");
    assert_eq!(seen["failure_kind"], "interrupted");
    assert_eq!(
        run.record().unwrap().status,
        RunStatus::Running,
        "the server never writes to the state root"
    );
    assert_eq!(get(&router, &app.read).await["failure_kind"], "interrupted");
}

#[tokio::test]
async fn a_run_removed_and_made_again_is_read_again() {
    let app = TestApp::new();
    let router = router(app.state());
    assert_eq!(get(&router, &app.read).await["status"], "failed");
    // gc moves the run away; a run of the same id appears (a restored backup).
    let dir = app.store.root().run_dir(&RUN.parse().unwrap());
    let parked = dir.with_file_name("parked");
    std::fs::rename(&dir, &parked).unwrap();
    let auth = format!("Bearer {}", app.read);
    let (status, _, _) = oneshot(
        router.clone(),
        "GET",
        &format!("/news/api/forge/pikaci/run/{RUN}"),
        &[("authorization", &auth)],
        axum::body::Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    std::fs::rename(&parked, &dir).unwrap();
    let run = app.store.run(&RUN.parse().unwrap()).unwrap();
    let mut r = run.record().unwrap();
    r.message = Some("restored".into());
    app.store.persist_run_record(&r).unwrap();
    assert_eq!(get(&router, &app.read).await["message"], "restored");
}

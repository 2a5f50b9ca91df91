//! End to end: a branch is pushed, the scheduler runs its pikaci lane with the
//! real `pikaci`, and the run and its logs are read back over HTTP and on the
//! page in a real browser.

use std::process::Command;
use std::time::Duration;

use axum::http::StatusCode;
use pika_news_web::db::{BranchId, LaneStatus, Role, SuiteStatus};
use pika_news_web::{AppState, router};
use tokio_util::sync::CancellationToken;

use crate::forge::{Forge, pikaci_bin};

const PIKACI_TOML: &str = r#"
[[job]]
id = "greet"
description = "say hello"
command = 'echo hello from the lane; printf "\033[32mgreen\033[0m\n"'

[[target]]
id = "ci"
jobs = ["greet"]
"#;

const LANES: &str = r#"
version = 1

[[branch.lanes]]
id = "pikaci-ci"
title = "pikaci ci target"
pikaci_target = "ci"
"#;

async fn run_branch() -> (Forge, BranchId) {
    let mut f = Forge::new();
    f.repo.pikaci_bin = pikaci_bin();
    f.push(
        "main",
        &[("pikaci.toml", PIKACI_TOML), ("ci/forge-lanes.toml", LANES)],
    );
    let sched = f.scheduler();
    let shutdown = CancellationToken::new();
    let started = sched.tick(&shutdown).await.unwrap();
    assert_eq!(started.len(), 1);
    for h in started {
        tokio::time::timeout(Duration::from_secs(120), h)
            .await
            .expect("the lane finished")
            .unwrap();
    }
    let branch = f.db.branch_by_name("main").await.unwrap().unwrap();
    (f, branch.id)
}

#[tokio::test]
async fn a_pushed_branch_runs_its_pikaci_lane_and_serves_the_run() {
    let (f, branch) = run_branch().await;
    let suites = f.db.suites(branch).await.unwrap();
    let lane = &suites[0].lanes[0];
    assert_eq!(lane.status, LaneStatus::Passed, "{lane:?}");
    assert_eq!(suites[0].status, SuiteStatus::Passed);
    let run_id = lane
        .pikaci_run_id
        .clone()
        .expect("the pikaci run id was recorded");
    // The worktree is gone; the run stays in the repository's state root.
    assert!(
        std::fs::read_dir(f.repo.data_dir.worktrees())
            .unwrap()
            .next()
            .is_none()
    );
    assert!(
        f.repo
            .pikaci_state_root
            .join("runs")
            .join(&run_id)
            .join("run.json")
            .exists()
    );
    // The lane log reads pikaci's events as lines; the raw JSONL is beside it.
    let log = std::fs::read_to_string(f.repo.data_dir.lane_log(lane.id)).unwrap();
    for line in [
        format!("[pikaci] run started: {run_id} · ci\n"),
        "[pikaci] job started: greet · say hello\n".to_owned(),
        "[pikaci] job finished: greet · status=passed".to_owned(),
        format!("[pikaci] run finished: {run_id} · status=passed"),
    ] {
        assert!(log.contains(&line), "{line:?} not in {log}");
    }
    assert!(!log.contains("\"event\""), "{log}");
    let raw = std::fs::read_to_string(f.repo.data_dir.lane_events(lane.id)).unwrap();
    assert_eq!(raw.lines().count(), 4, "{raw}");
    assert!(raw.lines().all(|l| l.starts_with("{\"event\"")), "{raw}");

    let token = f.db.create_token("reader", Role::Read).unwrap();
    let app = TestClient {
        app: router(AppState::new(
            f.db.clone(),
            f.repo.pikaci_state_root.clone(),
            false,
        )),
        token,
    };
    let (status, body) = app
        .get(&format!("/news/api/forge/branch/{branch}/logs"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["pikaci_run"]["run_id"], run_id.as_str());
    assert_eq!(body["pikaci_run"]["status"], "passed");
    assert_eq!(body["pikaci_log_metadata"]["jobs"][0]["id"], "greet");
    let (_, body) = app
        .get(&format!("/news/api/forge/pikaci/logs/{run_id}?kind=guest"))
        .await;
    assert_eq!(
        body["guest"],
        "hello from the lane\n\u{1b}[32mgreen\u{1b}[0m\n"
    );
}

struct TestClient {
    app: axum::Router,
    token: String,
}

impl TestClient {
    async fn get(&self, uri: &str) -> (StatusCode, serde_json::Value) {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let req = axum::http::Request::builder()
            .uri(uri)
            .header("authorization", format!("Bearer {}", self.token))
            .body(axum::body::Body::empty())
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }
}

#[tokio::test]
async fn the_branch_page_shows_lanes_and_log_text_in_a_real_browser() {
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect(
            "headless Chromium is needed for this test: run `bash scripts/test-setup.sh` (it installs chromium)",
        );
    let (f, branch) = run_branch().await;
    let token = f.db.create_token("browser", Role::Read).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router(AppState::new(
        f.db.clone(),
        f.repo.pikaci_state_root.clone(),
        false,
    ));
    let server = tokio::spawn(axum::serve(listener, app).into_future());

    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let url = format!("http://{addr}/news/branch/{branch}/ci?token={token}");
    let profile = tempfile::tempdir().unwrap();
    let browse = |extra: &[String]| {
        let mut cmd = Command::new(chromium);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=10000",
            "--window-size=1200,900",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(&url);
        cmd
    };
    let mut cmd = browse(&["--dump-dom".to_owned()]);
    let dom = tokio::task::spawn_blocking(move || cmd.output().unwrap());
    let out = tokio::time::timeout(Duration::from_secs(120), dom)
        .await
        .unwrap()
        .unwrap();
    let html = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        html.contains("pikaci ci target"),
        "lane title missing: {html}"
    );
    assert!(html.contains("passed"), "{html}");
    assert!(html.contains("greet: passed"), "job button missing: {html}");
    assert!(
        html.contains("hello from the lane"),
        "log text missing (the script did not load the tail): {html}"
    );
    assert!(
        html.contains("class=\"c32\""),
        "ANSI green was not rendered: {html}"
    );
    let shot = artifacts.join("branch-ci.png");
    let arg = format!("--screenshot={}", shot.display());
    let _ = std::fs::remove_file(&shot);
    let mut cmd = browse(&[arg]);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.abort();
}

//! End to end: a branch is pushed, the scheduler runs its pikaci lane with the
//! real `pikaci`, and the run and its logs are read back over HTTP and on the
//! page in a real browser.

use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use pika_news_core::db::{BranchId, LaneStatus, Role, SuiteStatus};
use pika_news_web::{AppState, router};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::browser::Browser;
use crate::forge::{Forge, pikaci_bin};
use crate::support::oneshot;

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
            .join(run_id.as_str())
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
        let auth = format!("Bearer {}", self.token);
        let (status, _, bytes) = oneshot(
            self.app.clone(),
            "GET",
            uri,
            &[("authorization", &auth)],
            Body::empty(),
        )
        .await;
        (status, serde_json::from_slice(&bytes).unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_branch_page_shows_lanes_and_log_text_in_a_real_browser() {
    let (f, branch) = run_branch().await;
    let token = f.db.create_token("browser", Role::Read).unwrap();
    let (base, server) = serve(&f).await;
    let mut b = Browser::launch();
    b.sign_in(&base, &token, &format!("/news/branch/{branch}/ci"));
    let lanes = b.eval("document.querySelector('#lanes').innerText");
    let lanes = lanes.as_str().unwrap();
    assert!(
        lanes.contains("pikaci ci target") && lanes.contains("passed"),
        "{lanes}"
    );
    b.screenshot("branch-ci.png", true);
    // The job's chip opens its log: the real pikaci's output, in colour.
    b.click("a.chip[data-job=greet]");
    b.wait_for("window.pikaNewsViewer && document.getElementById('L2')");
    assert_eq!(
        b.eval("document.querySelector('#L1 .x').textContent"),
        json!("hello from the lane")
    );
    assert_eq!(
        b.eval("document.querySelector('#L2 .x span').className"),
        json!("f2"),
        "ANSI green is rendered"
    );
    b.assert_no_script_errors();
    drop(b);
    server.abort();
}

async fn serve(f: &Forge) -> (String, tokio::task::JoinHandle<()>) {
    let app = router(
        AppState::new(f.db.clone(), f.repo.pikaci_state_root.clone(), false)
            .with_data_dir(f.repo.data_dir.clone()),
    );
    let (addr, server) = crate::support::serve(app).await;
    (format!("http://{addr}"), server)
}

/// A job that prints, waits for a gate file, then prints more.
fn gated_pikaci_toml(gate: &camino::Utf8Path) -> String {
    format!(
        r#"
[[job]]
id = "slow"
description = "waits for the test"
command = '''echo first line; printf "\033[33mamber\033[0m\n"; while [ ! -e {gate} ]; do sleep 0.05; done; echo after the gate; for i in 1 2 3 4 5; do echo "tick $i"; sleep 0.1; done'''

[[target]]
id = "ci"
jobs = ["slow"]
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_jobs_new_lines_appear_in_the_browser_without_a_reload() {
    let mut f = Forge::new();
    f.repo.pikaci_bin = pikaci_bin();
    let gate = f.root.join("gate");
    f.push(
        "main",
        &[
            ("pikaci.toml", &gated_pikaci_toml(&gate)),
            ("ci/forge-lanes.toml", LANES),
        ],
    );
    let sched = f.scheduler();
    let shutdown = CancellationToken::new();
    let started = sched.tick(&shutdown).await.unwrap();
    assert_eq!(started.len(), 1);
    let branch = f.db.branch_by_name("main").await.unwrap().unwrap().id;
    // Wait until the real pikaci has started the job and written its first lines.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let (lane, run_id) = loop {
        let suites = f.db.suites(branch).await.unwrap();
        let lane = &suites[0].lanes[0];
        if let Some(run) = &lane.pikaci_run_id {
            let log = f
                .repo
                .pikaci_state_root
                .join("runs")
                .join(run.as_str())
                .join("jobs/slow/guest.log");
            if std::fs::read_to_string(&log).is_ok_and(|t| t.contains("amber")) {
                break (lane.id, run.clone());
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let token = f.db.create_token("browser", Role::Read).unwrap();
    let (base, server) = serve(&f).await;
    let mut b = Browser::launch();
    b.sign_in(
        &base,
        &token,
        &format!("/news/branch/{branch}/ci/lane/{lane}?job=slow"),
    );
    b.wait_for("window.pikaNewsViewer");
    assert_eq!(
        b.eval("document.getElementById('log').dataset.live"),
        json!("1")
    );
    assert_eq!(
        b.eval("document.getElementById('livebadge') !== null"),
        json!(true)
    );
    assert_eq!(
        b.eval("document.querySelector('#L1 .x').textContent"),
        json!("first line")
    );
    b.eval("window.notReloaded = true");
    // The job goes on: its next lines arrive through the stream.
    std::fs::write(&gate, "").unwrap();
    b.wait_for("document.getElementById('L8') && document.querySelector('#L8 .x').textContent === 'tick 5'");
    assert_eq!(b.eval("window.notReloaded"), json!(true), "no reload");
    assert_eq!(
        b.eval("document.querySelector('#L3 .x').textContent"),
        json!("after the gate")
    );
    assert_eq!(
        b.eval("document.querySelector('#L2 .x span').className"),
        json!("f3")
    );
    // Each line has the time it arrived (from the log's sidecar; live lines
    // from the stream's prefix, which is not part of the text).
    let stamp = "/^\\d\\d:\\d\\d:\\d\\d\\.\\d{3}$/";
    for row in ["L1", "L3", "L8"] {
        assert_eq!(
            b.eval(&format!(
                "{stamp}.test(document.querySelector('#{row} .t').textContent)"
            )),
            json!(true),
            "{row} has its time"
        );
    }
    let display = "getComputedStyle(document.querySelector('#L8 .t')).display";
    assert_eq!(b.eval(display), json!("none"));
    b.press("t", false);
    assert_eq!(b.eval(display), json!("block"), "shown (a flex item)");
    // The end of the job closes the stream and the badge goes.
    b.wait_for("document.getElementById('livebadge') === null");
    b.wait_for("document.getElementById('logend').textContent.startsWith('End of log · 8 lines')");
    assert_eq!(b.eval("window.notReloaded"), json!(true));
    b.screenshot("live.png", false);
    b.assert_no_script_errors();
    drop(b);
    for h in started {
        tokio::time::timeout(Duration::from_secs(120), h)
            .await
            .expect("the lane finished")
            .unwrap();
    }
    let record = f
        .repo
        .pikaci_state_root
        .join("runs")
        .join(run_id.as_str())
        .join("run.json");
    assert!(
        std::fs::read_to_string(record)
            .unwrap()
            .contains("\"passed\"")
    );
    server.abort();
}

//! A state root the earlier pikaci wrote reads through the HTTP API: a run id
//! that carries no time, every key of its `run.json`, its executor and phase
//! names, and guest logs in `jobs/<job>/artifacts/`.

use axum::http::StatusCode;
use pikaci_store::DiskFs;
use pikaci_store::testing::{
    UNMODELLED_JOB_KEYS, UNMODELLED_RUN_KEYS, UPSTREAM_VM_PHASES, UpstreamJob, UpstreamRun,
};
use serde_json::Value;

use crate::support::TestApp;

const ID: &str = "pikaci-run-123";

fn with_upstream_run() -> (TestApp, Value) {
    let app = TestApp::new();
    let run = UpstreamRun::new(ID).jobs(vec![
        UpstreamJob::new("check-pika-rust")
            .remote_vm()
            .guest_log(Some(b"running 412 tests\ntest result: ok. 412 passed\n")),
        UpstreamJob::new("check-notifications")
            .failed(101)
            .guest_log(Some(b"thread 'main' panicked\n")),
    ]);
    let written = run.write(&DiskFs::new(), app.store.root()).unwrap();
    (app, written)
}

/// `value` as the API serves it: every absolute path a name (inside the
/// run's folder: relative to it; elsewhere: its last component).
fn as_served(value: &Value, app: &TestApp) -> Value {
    let run_dir = app.store.root().run_dir(&ID.parse().unwrap());
    match value {
        Value::String(s) if s.starts_with('/') => {
            let path = camino::Utf8Path::new(s);
            match path.strip_prefix(&run_dir) {
                Ok(rest) => rest.as_str().into(),
                Err(_) => path.file_name().unwrap_or(".").into(),
            }
        }
        Value::Array(items) => items.iter().map(|v| as_served(v, app)).collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), as_served(v, app)))
            .collect(),
        other => other.clone(),
    }
}

#[tokio::test]
async fn the_run_record_is_served_with_every_key_upstream_wrote() {
    let (app, written) = with_upstream_run();
    let (status, body) = app.get(&format!("/news/api/forge/pikaci/run/{ID}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["run_id"], ID);
    assert_eq!(body["status"], "failed");
    for key in UNMODELLED_RUN_KEYS {
        assert_eq!(body[key], as_served(&written[key], &app), "{key}");
    }
    for key in UNMODELLED_JOB_KEYS {
        let served = as_served(&written["jobs"][0][key], &app);
        assert_eq!(body["jobs"][0][key], served, "{key}");
    }
    assert_eq!(
        body["plan_path"], "plan.json",
        "a path as a name in the run folder"
    );
    assert_eq!(body["jobs"][0]["executor"], "remote_linux_vm");
    assert_eq!(body["jobs"][1]["executor"], "host_local");
    let vm = &body["jobs"][0]["remote_linux_vm_execution"];
    let phases: Vec<&str> = vm["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, UPSTREAM_VM_PHASES);
    assert_eq!(
        vm["incus_image"],
        written["jobs"][0]["remote_linux_vm_execution"]["incus_image"]
    );
}

#[tokio::test]
async fn guest_logs_are_read_from_artifacts() {
    let (app, _) = with_upstream_run();
    let (status, body) = app
        .get(&format!("/news/api/forge/pikaci/logs/{ID}?kind=guest"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["job"], "check-pika-rust");
    assert_eq!(
        body["guest"],
        "running 412 tests\ntest result: ok. 412 passed\n"
    );
    assert_eq!(body["guest_log"]["exists"], true);
    assert_eq!(body["guest_log"]["total_size"], 46);

    let (status, body) = app
        .get(&format!(
            "/news/api/forge/pikaci/logs/{ID}?job=check-notifications&tail=9"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["guest"], "panicked\n");
    assert_eq!(body["guest_log"]["truncated"], true);
    // The host log is where it always was.
    assert_eq!(body["host"], " started\n");
    assert_eq!(body["host_log"]["exists"], true);
}

#[tokio::test]
async fn branch_logs_of_a_lane_that_ran_an_upstream_run_report_its_guest_logs() {
    let (app, _) = with_upstream_run();
    let (branch, lane, _) = app.branch().await;
    app.db.set_lane_pikaci_run(lane, ID).await.unwrap();
    let (status, body) = app
        .get(&format!(
            "/news/api/forge/branch/{branch}/logs?lane_run_id={lane}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["pikaci_run"]["run_id"], ID);
    let jobs = body["pikaci_log_metadata"]["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    for job in jobs {
        assert_eq!(job["guest_log_exists"], true, "{job}");
        // Named in the run's folder, never by a server path.
        let id = job["id"].as_str().unwrap();
        assert_eq!(
            job["guest_log_path"],
            format!("jobs/{id}/artifacts/guest.log").as_str(),
            "{job}"
        );
    }
    assert_eq!(jobs[1]["guest_log_size"], 23);
}

#[tokio::test]
async fn any_safe_run_id_is_read_and_unsafe_ones_are_still_a_400() {
    let (app, _) = with_upstream_run();
    let (status, body) = app.get("/news/api/forge/pikaci/run/pikaci-run-124").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    for bad in ["pikaci-run-..", ".pikaci-run", "a%2F..%2Fb"] {
        let (status, body) = app.get(&format!("/news/api/forge/pikaci/run/{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}

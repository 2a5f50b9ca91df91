//! `GET {prefix}/api/forge/pikaci/prepared-outputs/{run_id}`: a run's
//! `prepared-outputs.json` as `{run_id, prepared_outputs}`; 404 without one;
//! a file too large, a link or a FIFO in its place refused at once, with no
//! server path in the answer.

use axum::http::StatusCode;

use crate::support::{PREPARED_OUTPUTS as PREPARED, RUN, TestApp};

#[tokio::test]
async fn prepared_outputs_present_absent_oversized_link_and_fifo() {
    let app = TestApp::new();
    let run: pikaci_core::RunId = RUN.parse().unwrap();
    let path = app.store.root().prepared_outputs(&run);
    let url = |prefix: &str| format!("{prefix}/api/forge/pikaci/prepared-outputs/{RUN}");

    let (status, body) = app.get(&url("/git")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], format!("run {RUN} has no prepared outputs"));
    let (status, _) = app
        .get("/git/api/forge/pikaci/prepared-outputs/20990101T000000Z-00000000")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get("/git/api/forge/pikaci/prepared-outputs/..%2Fetc")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    std::fs::write(&path, PREPARED).unwrap();
    for prefix in ["/git", "/news"] {
        let (status, body) = app.get(&url(prefix)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["run_id"], RUN);
        assert_eq!(
            body["prepared_outputs"],
            serde_json::from_str::<serde_json::Value>(PREPARED).unwrap()
        );
    }
    let (status, _) = app.send("GET", &url("/git"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let server_path = app.store.root().path().to_string();
    let refused = |body: &serde_json::Value| {
        let error = body["error"].as_str().unwrap_or_default().to_owned();
        assert!(error.contains("prepared-outputs.json"), "{error}");
        assert!(!error.contains(&server_path), "{error}");
        error
    };

    let big = vec![b' '; usize::try_from(pikaci_store::MAX_PREPARED_OUTPUTS_BYTES).unwrap() + 1];
    std::fs::write(&path, big).unwrap();
    let (status, body) = app.get(&url("/git")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(refused(&body).contains("bytes is larger than the"));

    std::fs::remove_file(&path).unwrap();
    let elsewhere = app.store.root().path().join("elsewhere.json");
    std::fs::write(&elsewhere, PREPARED).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
    let (status, body) = app.get(&url("/git")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    refused(&body);

    std::fs::remove_file(&path).unwrap();
    nix::unistd::mkfifo(
        path.as_std_path(),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    // Refused at once: no writer will ever come, so a wait would hang.
    let (status, body) = app.get(&url("/git")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    assert!(refused(&body).contains("FIFO"));
}

#[tokio::test]
async fn branch_logs_carry_the_lanes_prepared_outputs_and_null_without_or_refused() {
    let app = TestApp::new();
    let (branch, with_run, _) = app.branch().await;
    let run: pikaci_core::RunId = RUN.parse().unwrap();
    let path = app.store.root().prepared_outputs(&run);
    let url = format!("/git/api/forge/branch/{branch}/logs?lane_run_id={with_run}");

    let (status, body) = app.get(&url).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["pikaci_prepared_outputs"].is_null(), "{body}");

    std::fs::write(&path, PREPARED).unwrap();
    let (status, body) = app.get(&url).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["pikaci_prepared_outputs"],
        serde_json::from_str::<serde_json::Value>(PREPARED).unwrap()
    );

    // A link in its place: refused, so null, and the rest of the answer stands.
    std::fs::remove_file(&path).unwrap();
    let elsewhere = app.store.root().path().join("elsewhere.json");
    std::fs::write(&elsewhere, PREPARED).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
    let (status, body) = app.get(&url).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["pikaci_prepared_outputs"].is_null(), "{body}");
    assert_eq!(body["pikaci_run"]["run_id"], RUN);
}

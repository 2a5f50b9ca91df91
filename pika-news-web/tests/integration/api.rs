//! The routes of the HTTP contract, over a real database and state root.

use axum::http::StatusCode;

use crate::support::{RUN, TestApp};

#[tokio::test]
async fn health_needs_no_token() {
    let app = TestApp::new();
    let (status, body) = app.send("GET", "/health", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn run_returns_the_record() {
    let app = TestApp::new();
    let (status, body) = app.get(&format!("/news/api/forge/pikaci/run/{RUN}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["run_id"], RUN);
    assert_eq!(body["status"], "failed");
    assert_eq!(body["jobs"][0]["id"], "build");
    let (status, body) = app
        .get("/news/api/forge/pikaci/run/20990101T000000Z-00000000")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("not found"));
}

#[tokio::test]
async fn logs_default_to_the_first_job_and_both_kinds() {
    let app = TestApp::new();
    let (status, body) = app.get(&format!("/news/api/forge/pikaci/logs/{RUN}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["run_id"], RUN);
    assert_eq!(body["job"], "build");
    assert_eq!(body["host"], "[pikaci] ran cargo test\n");
    assert_eq!(
        body["guest"],
        "line 1\nline 2\n\u{1b}[31merror\u{1b}[0m: boom\n"
    );
    assert_eq!(body["guest_log"]["truncated"], false);
    assert_eq!(body["guest_log"]["total_size"], 35);
}

#[tokio::test]
async fn logs_by_kind_tail_and_range() {
    let app = TestApp::new();
    let base = format!("/news/api/forge/pikaci/logs/{RUN}?job=build");
    let (_, body) = app.get(&format!("{base}&kind=guest&tail=12")).await;
    assert_eq!(body["guest"], "r\u{1b}[0m: boom\n");
    assert!(body["host"].is_null());
    assert_eq!(body["guest_log"]["truncated"], true);
    assert_eq!(body["guest_log"]["offset"], 23);
    let (_, body) = app.get(&format!("{base}&kind=host&offset=9&limit=4")).await;
    assert_eq!(body["host"], "ran ");
    assert!(body["guest"].is_null());
    let (_, body) = app.get(&format!("{base}&kind=both&offset=1000")).await;
    assert_eq!(body["guest"], "");
    assert_eq!(body["guest_log"]["offset"], 35);
}

#[tokio::test]
async fn bad_kind_and_range_are_400() {
    let app = TestApp::new();
    for q in [
        "kind=all",
        "kind=../host",
        "tail=-1",
        "tail=abc",
        "offset=1&tail=5",
        "limit=x",
        "job=../../etc",
    ] {
        let (status, body) = app
            .get(&format!("/news/api/forge/pikaci/logs/{RUN}?{q}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {body}");
        assert!(!body["error"].as_str().unwrap().is_empty());
    }
    let (status, _) = app
        .get(&format!("/news/api/forge/pikaci/logs/{RUN}?job=ghost"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn branch_detail_resolve_and_logs() {
    let app = TestApp::new();
    let (branch, with_run, without) = app.branch().await;
    let (status, body) = app.get(&format!("/news/api/forge/branch/{branch}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["name"], "feature/x");
    assert_eq!(body["suites"][0]["lanes"][0]["pikaci_run_id"], RUN);
    assert_eq!(
        body["suites"][0]["lanes"][0]["failure_kind"],
        "test_failure"
    );
    assert_eq!(body["suites"][0]["lanes"][1]["status"], "queued");
    let suite = body["suites"][0]["id"].clone();
    // Upstream's view of the same.
    assert_eq!(body["branch"]["branch_id"], branch.get());
    assert_eq!(body["branch"]["repo"], "sledtools/pika");
    assert_eq!(body["branch"]["head_sha"], "a".repeat(40));
    assert_eq!(body["branch"]["ci_status"], "running");
    assert_eq!(body["ci_runs"][0]["id"], suite);
    assert_eq!(body["ci_runs"][0]["lanes"][0]["status"], "failed");
    assert_eq!(
        body["ci_runs"][0]["lanes"][0]["failure_kind"],
        "test_failure"
    );

    let (status, body) = app
        .get("/news/api/forge/branch/resolve?name=feature/x")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["id"], branch.get());
    assert_eq!(body["branch_id"], branch.get());
    assert_eq!(body["branch_name"], "feature/x");
    assert_eq!(body["branch_state"], "open");
    assert_eq!(body["repo"], "sledtools/pika");
    let (status, aliased) = app
        .get("/news/api/forge/branch/resolve?branch_name=feature%2Fx")
        .await;
    assert_eq!((status, &aliased), (StatusCode::OK, &body));
    let (status, _) = app.get("/news/api/forge/branch/resolve?name=nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A lane run without a pikaci run: both pikaci fields are null.
    let (status, body) = app
        .get(&format!("/news/api/forge/branch/{branch}/logs?lane=lint"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["branch_id"], branch.get());
    assert_eq!(body["branch_name"], "feature/x");
    assert_eq!(body["lane"]["id"], without.get());
    assert!(body["pikaci_run"].is_null() && body["pikaci_log_metadata"].is_null());
    assert!(body.as_object().unwrap().contains_key("pikaci_run"));

    // By default upstream's choice: the newest failed lane run. `run_id` is
    // its suite (upstream's CI run).
    for q in [
        String::new(),
        "lane=pre-merge".to_owned(),
        format!("lane_run_id={with_run}"),
    ] {
        let (status, body) = app
            .get(&format!("/news/api/forge/branch/{branch}/logs?{q}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["run_id"], suite);
        assert_eq!(body["lane"]["id"], with_run.get());
        assert_eq!(body["lane"]["lane_id"], "pre-merge");
        assert_eq!(body["lane"]["status"], "failed");
        assert_eq!(body["pikaci_run"]["run_id"], RUN);
    }
    for q in [
        "lane=pre-merge".to_owned(),
        format!("lane_run_id={with_run}"),
    ] {
        let (status, body) = app
            .get(&format!("/news/api/forge/branch/{branch}/logs?{q}"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["lane"]["lane"], "pre-merge");
        assert_eq!(body["pikaci_run"]["run_id"], RUN);
        assert_eq!(
            body["pikaci_log_metadata"]["jobs"][0]["guest_log_exists"],
            true
        );
        assert_eq!(body["pikaci_log_metadata"]["jobs"][0]["guest_log_size"], 35);
    }
    let (status, _) = app
        .get(&format!(
            "/news/api/forge/branch/{branch}/logs?lane_run_id=9999"
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app.get("/news/api/forge/branch/424242").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_corrupt_record_is_500_naming_the_run_not_the_path() {
    let app = TestApp::new();
    let id: pikaci_core::RunId = "20260324T161239Z-00000001".parse().unwrap();
    let path = app.store.root().run_json(&id);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "{\"run_id\": tru").unwrap();
    let (status, body) = app.get(&format!("/news/api/forge/pikaci/run/{id}")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let msg = body["error"].as_str().unwrap();
    assert!(
        msg.contains(id.as_str()) && msg.contains("run.json"),
        "{msg}"
    );
    assert!(
        !msg.contains(app.store.root().path().as_str()),
        "leaks a path: {msg}"
    );
}

#[tokio::test]
async fn a_running_run_whose_owner_died_is_served_as_interrupted() {
    let app = TestApp::new();
    let mut rec = pikaci_core::RunRecord::for_test("20260324T161240Z-00000002");
    rec.status = pikaci_core::RunStatus::Running;
    rec.owner = Some(pikaci_core::RunOwner {
        pid: u32::MAX - 1,
        host: pikaci_core::this_host_name(),
        start_ticks: None,
        lock: false,
    });
    app.store.persist_run_record(&rec).unwrap();
    let (_, body) = app
        .get(&format!("/news/api/forge/pikaci/run/{}", rec.run_id))
        .await;
    assert_eq!(body["status"], "failed");
    assert_eq!(body["failure_kind"], "interrupted");
}

#[tokio::test]
async fn a_real_socket_serves_the_same_router() {
    let app = TestApp::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, app.app()).into_future());
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let req = format!(
        "GET /news/api/forge/pikaci/run/{RUN} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        app.read
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut resp = String::new();
    stream.read_to_string(&mut resp).await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains(&format!("\"run_id\":\"{RUN}\"")), "{resp}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_serves_reads_and_makes_writes_wait_not_fail() {
    let app = TestApp::new();
    let (_, lane, _) = app.branch().await;
    let db = app.db.clone();
    // Another writer holds an exclusive lock until told to let go.
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        db.call_blocking(|c| {
            c.execute_batch("BEGIN EXCLUSIVE")?;
            locked_tx.send(()).unwrap();
            let _ = release_rx.recv();
            c.execute_batch("COMMIT")?;
            Ok(())
        })
        .unwrap();
    });
    locked_rx.recv().unwrap();
    // Reads (the token check included) never wait for a writer.
    let (status, body) = app.get(&format!("/news/api/forge/pikaci/run/{RUN}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A write waits for the lock (up to the busy timeout) instead of failing.
    let writer = {
        let auth = format!("Bearer {}", app.write);
        let app = app.app();
        tokio::spawn(async move {
            use tower::ServiceExt;
            let req = axum::http::Request::post(format!("/news/api/forge/lane/{lane}/requeue"))
                .header("authorization", auth)
                .body(axum::body::Body::empty())
                .unwrap();
            app.oneshot(req).await.unwrap().status()
        })
    };
    release_tx.send(()).unwrap();
    assert_eq!(writer.await.unwrap(), StatusCode::OK);
    holder.join().unwrap();
}

//! Every route without a token, with a malformed, bad or revoked one; public reads.

use axum::http::StatusCode;

use crate::support::{RUN, TestApp};

fn routes(branch: pika_news_core::db::BranchId) -> Vec<String> {
    vec![
        format!("/news/api/forge/pikaci/run/{RUN}"),
        format!("/news/api/forge/pikaci/logs/{RUN}"),
        format!("/news/api/forge/branch/{branch}"),
        format!("/news/api/forge/branch/{branch}/logs"),
        "/news/api/forge/branch/resolve?name=feature/x".to_owned(),
    ]
}

#[tokio::test]
async fn every_route_refuses_missing_malformed_bad_and_revoked_tokens() {
    let app = TestApp::new();
    let (branch, _, _) = app.branch().await;
    let revoked = format!("Bearer {}", app.revoked);
    let bad = format!("Bearer {}x", app.read);
    let basic = format!("Basic {}", app.read);
    let long = format!("Bearer {}", "a".repeat(10_000));
    let cases: [Option<&str>; 7] = [
        None,
        Some("Bearer"),
        Some("Bearer "),
        Some(&basic),
        Some(&bad),
        Some(&revoked),
        Some(&long),
    ];
    let mut checked = 0;
    for route in routes(branch) {
        for auth in cases {
            let (status, body) = app.send("GET", &route, auth).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{route} with {auth:?}: {body}"
            );
            assert_eq!(body["error"], "a valid bearer token is required");
            checked += 1;
        }
        for token in [&app.read, &app.write] {
            let (status, body) = app
                .send("GET", &route, Some(&format!("Bearer {token}")))
                .await;
            assert_eq!(status, StatusCode::OK, "{route}: {body}");
        }
    }
    assert_eq!(checked, 35);
}

#[tokio::test]
async fn revocation_takes_effect_at_once() {
    let app = TestApp::new();
    let route = format!("/news/api/forge/pikaci/run/{RUN}");
    let auth = format!("Bearer {}", app.read);
    assert_eq!(app.send("GET", &route, Some(&auth)).await.0, StatusCode::OK);
    app.db.revoke_token("reader").unwrap();
    assert_eq!(
        app.send("GET", &route, Some(&auth)).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn public_read_opens_reads_but_still_refuses_bad_tokens() {
    let app = TestApp::with_public_read(true);
    let (branch, _, _) = app.branch().await;
    for route in routes(branch) {
        let (status, body) = app.send("GET", &route, None).await;
        assert_eq!(status, StatusCode::OK, "{route}: {body}");
        let (status, _) = app.send("GET", &route, Some("Bearer nope")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{route}");
    }
}

#[tokio::test]
async fn unknown_routes_are_json_404s() {
    let app = TestApp::new();
    let (status, body) = app.get("/news/api/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "no such route");
}

/// The server caches tokens it has seen valid; `pika-news token revoke`, run
/// as its own process on the same database, still stops the token at the
/// next request.
#[tokio::test]
async fn a_token_revoked_by_the_cli_in_another_process_fails_at_the_next_request() {
    revoked_by_the_cli(false).await;
}

#[tokio::test]
async fn without_inotify_a_revocation_by_the_cli_is_seen_as_well() {
    revoked_by_the_cli(true).await;
}

async fn revoked_by_the_cli(without_watch: bool) {
    let app = TestApp::new();
    let mut state = app.state();
    if without_watch {
        state = state.without_disk_watch();
    }
    let router = pika_news_web::router(state);
    let route = format!("/news/api/forge/pikaci/run/{RUN}");
    let auth = format!("Bearer {}", app.read);
    let send = |router: axum::Router| {
        let (route, auth) = (route.clone(), auth.clone());
        async move {
            use tower::ServiceExt;
            let req = axum::http::Request::builder()
                .uri(route)
                .header("authorization", auth)
                .body(axum::body::Body::empty())
                .unwrap();
            router.oneshot(req).await.unwrap().status()
        }
    };
    for _ in 0..3 {
        assert_eq!(send(router.clone()).await, StatusCode::OK);
    }
    // The test's folder: the database and, inside pikaci-state/, the state root.
    let root = app.store.root().path().parent().unwrap().parent().unwrap();
    let config = root.join("cli.toml");
    std::fs::write(
        &config,
        "database = \"news.sqlite\"\n[forge_repo]\nrepo = \"sledtools/pika\"\ncanonical_git_dir = \"git/pika.git\"\n",
    )
    .unwrap();
    let out = crate::served::pika_news(&["token", "revoke", "--config", config.as_str(), "reader"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(send(router.clone()).await, StatusCode::UNAUTHORIZED);
}

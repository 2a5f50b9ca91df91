//! Both prefixes: today's pika-git (`/git`) and the older pika-news
//! (`/news`) are one route table; the front door and the branch address
//! `ph url` prints stay under the prefix they were asked on.

use axum::body::Body;
use axum::http::StatusCode;

use crate::support::{RUN, TestApp, oneshot};

async fn location(app: &TestApp, uri: &str) -> (StatusCode, String) {
    let (status, headers, _) = oneshot(app.app(), "GET", uri, &[], Body::empty()).await;
    let to = headers
        .get("location")
        .map(|v| v.to_str().expect("ascii").to_owned())
        .unwrap_or_default();
    (status, to)
}

#[tokio::test]
async fn the_front_door_leads_to_git() {
    let app = TestApp::new();
    assert_eq!(
        location(&app, "/").await,
        (StatusCode::PERMANENT_REDIRECT, "/git/".to_owned())
    );
}

#[tokio::test]
async fn the_branch_address_keeps_its_prefix_and_query() {
    let app = TestApp::new();
    let (branch, _, _) = app.branch().await;
    assert_eq!(
        location(&app, &format!("/git/branch/{branch}?job=build")).await,
        (
            StatusCode::SEE_OTHER,
            format!("/git/branch/{branch}/ci?job=build")
        )
    );
    assert_eq!(
        location(&app, &format!("/news/branch/{branch}")).await,
        (StatusCode::SEE_OTHER, format!("/news/branch/{branch}/ci"))
    );
}

#[tokio::test]
async fn both_prefixes_answer_the_same_with_the_same_access() {
    // A clock that stands still: upstream's keys say how long a lane has
    // waited ("queued 0s"), and the two requests must not straddle a second.
    let app = TestApp::with_clock(std::sync::Arc::new(
        pika_news_core::clock::ManualClock::new("2026-12-07T20:00:00Z".parse().unwrap()),
    ));
    let (branch, _, _) = app.branch().await;
    for path in [
        format!("/api/forge/pikaci/run/{RUN}"),
        format!("/api/forge/pikaci/logs/{RUN}?tail=100"),
        format!("/api/forge/branch/{branch}"),
        "/api/forge/nightly".to_owned(),
    ] {
        let git = app.get(&format!("/git{path}")).await;
        let news = app.get(&format!("/news{path}")).await;
        assert_eq!(git.0, StatusCode::OK, "{path}: {}", git.1);
        assert_eq!(git, news, "{path}");
        for prefix in ["/git", "/news"] {
            let (status, body) = app.send("GET", &format!("{prefix}{path}"), None).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{prefix}{path} without a token: {body}"
            );
        }
    }
    // Elsewhere than the pages: a JSON 404, under either prefix's API or
    // outside both (a mistyped page address is a page: `front::*`).
    for uri in ["/git/api/nope", "/news/api/nope", "/nope", "/gitx/api/me"] {
        let (status, body) = app.get(uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(body["error"], "no such route", "{uri}");
    }
}

//! The list routes: every suite of a long branch reached page by page
//! (body `next` and `Link` header agree, none twice, none missed), under
//! both prefixes; one lane; a commit's combined status; bad parameters.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{StatusCode, header};
use pika_news_core::db::{LaneStatus, NewLane, SuiteStatus};

use crate::support::{TestApp, oneshot};

/// GETs `uri` with the read token: status, `Link` header, body.
async fn get(app: &TestApp, uri: &str) -> (StatusCode, Option<String>, serde_json::Value) {
    let auth = format!("Bearer {}", app.read);
    let (status, headers, bytes) = oneshot(
        app.app(),
        "GET",
        uri,
        &[("authorization", &auth)],
        Body::empty(),
    )
    .await;
    let link = headers
        .get(header::LINK)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{uri}: {}", String::from_utf8_lossy(&bytes)));
    (status, link, body)
}

#[tokio::test]
async fn a_branch_with_120_suites_is_read_whole_page_by_page_under_both_prefixes() {
    let app = TestApp::new();
    let branch = app.db.upsert_branch("long", &"b".repeat(40)).await.unwrap();
    let mut made = BTreeSet::new();
    for i in 0..120 {
        let suite = app
            .db
            .insert_suite(branch, &format!("{i:040x}"), SuiteStatus::Passed, None)
            .await
            .unwrap();
        made.insert(suite.to_string());
    }
    for prefix in ["/git", "/news"] {
        let mut uri = format!("{prefix}/api/forge/branch/{branch}/suites?limit=50");
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let (status, link, body) = get(&app, &uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {body}");
            pages += 1;
            for s in body["suites"].as_array().unwrap() {
                seen.push(s["id"].to_string());
            }
            match body["next"].as_str() {
                Some(next) => {
                    assert!(next.starts_with(&format!("{prefix}/api/forge/")), "{next}");
                    assert_eq!(link, Some(format!("<{next}>; rel=\"next\"")));
                    uri = next.to_owned();
                }
                None => {
                    assert_eq!(link, None, "the last page has no Link");
                    break;
                }
            }
        }
        assert_eq!(pages, 3, "{prefix}");
        assert_eq!(seen.len(), 120, "{prefix}: none twice");
        assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), made, "{prefix}");
    }
    // The branches list pages the same way.
    let (status, _, body) = get(&app, "/git/api/forge/branches").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["branches"][0]["name"], "long");
    assert_eq!(body["next"], serde_json::Value::Null);
}

#[tokio::test]
async fn one_lane_and_a_commits_combined_status() {
    let app = TestApp::new();
    let (branch, failed, queued) = app.branch().await;
    let head = "a".repeat(40);
    let (status, _, lane) = get(&app, &format!("/git/api/forge/lane/{failed}")).await;
    assert_eq!(status, StatusCode::OK, "{lane}");
    assert_eq!(lane["id"], failed.to_string().parse::<i64>().unwrap());
    assert_eq!(lane["status"], "failed");

    let (status, _, combined) = get(&app, &format!("/news/api/forge/commit/{head}/status")).await;
    assert_eq!(status, StatusCode::OK, "{combined}");
    assert_eq!(combined["state"], "failed");
    assert_eq!(combined["total_count"], 2);
    assert_eq!(combined["sha"], head);

    // A rerun of the failed lane that passes, the other passing too: the
    // newest run of each lane counts.
    let suite = app.db.suites(branch).await.unwrap()[0].id;
    let rerun = app
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
    for lane in [rerun, queued] {
        app.db
            .set_lane_status(lane, LaneStatus::Passed, None, None)
            .await
            .unwrap();
    }
    let (_, _, combined) = get(&app, &format!("/git/api/forge/commit/{head}/status")).await;
    assert_eq!(combined["state"], "passed", "{combined}");
    assert_eq!(combined["total_count"], 2);

    let (status, _, none) = get(
        &app,
        &format!("/git/api/forge/commit/{}/status", "c".repeat(40)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(none["state"], "none");
    assert_eq!(none["total_count"], 0);
}

#[tokio::test]
async fn bad_list_parameters_are_400s_that_say_why_and_unknown_rows_404s() {
    let app = TestApp::new();
    let (branch, _, _) = app.branch().await;
    for (uri, says) in [
        (
            format!("/git/api/forge/branch/{branch}/suites?limit=0"),
            "limit 0",
        ),
        (
            format!("/git/api/forge/branch/{branch}/suites?limit=500"),
            "1 to 200",
        ),
        (
            format!("/git/api/forge/branch/{branch}/suites?cursor=x"),
            "cursor",
        ),
        (
            "/git/api/forge/branches?page=2".to_owned(),
            "unknown parameter",
        ),
        (
            "/git/api/forge/commit/not-a-sha/status".to_owned(),
            "invalid commit",
        ),
        ("/git/api/forge/lane/0".to_owned(), "lane run id"),
    ] {
        let (status, _, body) = get(&app, &uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(says), "{uri}: {error}");
    }
    for uri in [
        "/git/api/forge/lane/999999",
        "/git/api/forge/branch/999999/suites",
    ] {
        let (status, _, body) = get(&app, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
    }
    // Reads need a token.
    let (status, _, _) = oneshot(
        app.app(),
        "GET",
        "/git/api/forge/branches",
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

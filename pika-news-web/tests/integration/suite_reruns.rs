//! Whole-suite reruns: new attempts in the same suite (each naming the run
//! it repeats), failed lanes only with `failed=1`, running lanes left alone,
//! a 409 that says why when nothing is to rerun; a nightly run the same.

use axum::http::StatusCode;
use pika_news_core::db::LaneStatus;

use crate::support::TestApp;

#[tokio::test]
async fn a_branch_suite_is_rerun_whole_or_its_failed_lanes_only() {
    let app = TestApp::new();
    let (branch, _failed, _queued) = app.branch().await;
    let write = format!("Bearer {}", app.write);
    let suite = app.db.suites(branch).await.unwrap()[0].id;

    // `failed` failed, `queued` is still queued: only the failed one.
    let (status, body) = app
        .send(
            "POST",
            &format!("/git/branch/{branch}/ci/rerun?failed=1"),
            Some(&write),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["suite_id"], suite.to_string().parse::<i64>().unwrap());
    let new = body["lane_run_ids"].as_array().unwrap();
    assert_eq!(new.len(), 1, "{body}");
    let suites = app.db.suites(branch).await.unwrap();
    assert_eq!(
        suites.len(),
        1,
        "an attempt in the same suite, not a new one"
    );
    let lanes = &suites[0].lanes;
    assert_eq!(lanes.len(), 3);
    let attempt = lanes
        .iter()
        .find(|l| serde_json::json!(l.id) == new[0])
        .unwrap();
    assert_eq!(attempt.lane, "pre-merge");
    assert_eq!(attempt.status, LaneStatus::Queued);

    // Nothing failed now (the attempt is queued): a 409 that says why.
    let (status, body) = app
        .send(
            "POST",
            &format!("/news/branch/{branch}/ci/rerun?failed=1"),
            Some(&write),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("still queued or running"),
        "{body}"
    );

    // Everything finished: a whole rerun makes one attempt per lane.
    for l in &app.db.suites(branch).await.unwrap()[0].lanes {
        if matches!(l.status, LaneStatus::Queued) {
            app.db
                .set_lane_status(l.id, LaneStatus::Passed, None, None)
                .await
                .unwrap();
        }
    }
    let (status, body) = app
        .send(
            "POST",
            &format!("/git/branch/{branch}/ci/rerun"),
            Some(&write),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["lane_run_ids"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(app.db.suites(branch).await.unwrap()[0].lanes.len(), 5);
    let (status, body) = app
        .send(
            "POST",
            &format!("/git/branch/{branch}/ci/rerun?failed=1"),
            Some(&write),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn a_nightly_run_is_rerun_and_bad_requests_say_why() {
    let app = TestApp::new();
    let (nightly, failed, _queued) = app.nightly().await;
    let write = format!("Bearer {}", app.write);
    let (status, body) = app
        .send(
            "POST",
            &format!("/git/nightly/{nightly}/rerun?failed=1"),
            Some(&write),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new = body["lane_run_ids"].as_array().unwrap();
    assert_eq!(new.len(), 1);
    assert_ne!(new[0].to_string(), failed.to_string());

    let read = format!("Bearer {}", app.read);
    let (status, _) = app
        .send(
            "POST",
            &format!("/git/nightly/{nightly}/rerun"),
            Some(&read),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a reader may not rerun");
    let (status, body) = app
        .send(
            "POST",
            &format!("/git/nightly/{nightly}/rerun?all=1"),
            Some(&write),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("unknown parameter")
    );
    let (status, _) = app
        .send("POST", "/git/nightly/999999/rerun", Some(&write))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .send("POST", "/git/branch/999999/ci/rerun", Some(&write))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_branch_page_reruns_failed_lanes_with_its_button() {
    use axum::body::Body;

    use crate::support::oneshot;

    let app = TestApp::new();
    let (branch, _failed, queued) = app.branch().await;
    let cookie = format!("pika_news_token={}", app.write);
    let page = |cookie: String| {
        let app = app.app();
        async move {
            let (_, _, body) = oneshot(
                app,
                "GET",
                &format!("/git/branch/{branch}/ci"),
                &[("cookie", cookie.as_str())],
                Body::empty(),
            )
            .await;
            String::from_utf8_lossy(&body).into_owned()
        }
    };
    // A lane still queued: no suite button yet.
    let html = page(cookie.clone()).await;
    assert!(!html.contains("rerun-failed"), "{html}");
    app.db
        .set_lane_status(queued, LaneStatus::Passed, None, None)
        .await
        .unwrap();
    let html = page(cookie.clone()).await;
    let action = format!("action=\"/git/branch/{branch}/ci/rerun?failed=1\"");
    assert!(html.contains(&action), "{html}");
    assert!(html.contains("Re-run all"), "{html}");
    // A reader sees none.
    let reader = page(format!("pika_news_token={}", app.read)).await;
    assert!(!reader.contains("rerun-failed"), "{reader}");

    let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &html[at..at + 32];
    let back = format!("/git/branch/{branch}/ci");
    let (status, headers, _) = oneshot(
        app.app(),
        "POST",
        &format!("/git/branch/{branch}/ci/rerun?failed=1"),
        &[
            ("cookie", cookie.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        Body::from(format!("csrf={csrf}&back={back}")),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], back.as_str());
    let lanes = &app.db.suites(branch).await.unwrap()[0].lanes;
    assert_eq!(lanes.len(), 3, "one new attempt, of the failed lane");
    assert_eq!(lanes[2].status, LaneStatus::Queued);
    assert_eq!(lanes[2].lane, "pre-merge");
}

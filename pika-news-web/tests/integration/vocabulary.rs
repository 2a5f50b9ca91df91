//! Our own answers speak one vocabulary and one time precision: statuses are
//! ours (`passed`, never upstream's `success`), and every time is RFC 3339
//! UTC with exactly three fractional digits. Upstream's words stay in the
//! `ph`-compatible parts (`branch` and `ci_runs` of a branch's detail).

use axum::body::Body;
use axum::http::StatusCode;
use std::sync::Arc;

use jiff::SignedDuration;
use pika_news_core::clock::ManualClock;
use pika_news_core::db::{Db, LaneStatus, NewLane, SuiteStatus};

use crate::support::{TestApp, oneshot};

const OURS: &[&str] = &[
    "queued",
    "running",
    "passed",
    "failed",
    "cancelled",
    "none",
    "open",
    "closed",
    "merged",
];

/// Keys whose subtree is upstream's shape, kept in upstream's words.
const UPSTREAM_PARTS: &[&str] = &["branch", "ci_runs"];

fn is_stored_time(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 24
        && s.ends_with('Z')
        && b[19] == b'.'
        && s.parse::<jiff::Timestamp>().is_ok()
        && b[20..23].iter().all(u8::is_ascii_digit)
}

/// Every problem in `v`: times not in our precision, statuses not ours.
fn check(v: &serde_json::Value, at: &str, problems: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let here = format!("{at}.{k}");
                if UPSTREAM_PARTS.contains(&k.as_str()) {
                    continue;
                }
                if (k.ends_with("_at") || k == "scheduled_for") && !v.is_null() {
                    match v.as_str() {
                        Some(s) if is_stored_time(s) => {}
                        _ => problems.push(format!("{here}: {v} is not a millisecond UTC time")),
                    }
                }
                if (k == "status" || k == "state") && v.is_string() {
                    let s = v.as_str().unwrap_or_default();
                    if !OURS.contains(&s) {
                        problems.push(format!("{here}: {s:?} is not one of our words"));
                    }
                }
                check(v, &here, problems);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                check(v, &format!("{at}[{i}]"), problems);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn our_answers_speak_one_status_vocabulary_and_give_times_in_milliseconds() {
    let app = TestApp::new();
    // Rows stamped at whole seconds and at 30 ms: the times a shorter form
    // would print as `...:00Z` and `...:00.03Z`.
    let clock = Arc::new(ManualClock::new("2026-12-07T20:00:00Z".parse().unwrap()));
    let db = Db::open_with_clock(app.db.path(), clock.clone()).unwrap();
    let head = "a".repeat(40);
    let branch = db.upsert_branch("feature/x", &head).await.unwrap();
    let suite = db
        .insert_suite(branch, &head, SuiteStatus::Running, None)
        .await
        .unwrap();
    let mut lanes = Vec::new();
    for (lane, status) in [
        ("test", LaneStatus::Failed),
        ("lint", LaneStatus::Passed),
        ("build", LaneStatus::Running),
        ("docs", LaneStatus::Queued),
    ] {
        clock.advance(SignedDuration::from_millis(30));
        let id = db
            .insert_lane(NewLane {
                suite_id: suite,
                lane: lane.into(),
                title: lane.into(),
                concurrency_group: None,
                command: None,
                timeout_secs: None,
            })
            .await
            .unwrap();
        clock.advance(SignedDuration::from_secs(1));
        if status != LaneStatus::Queued {
            db.set_lane_status(id, status, None, None).await.unwrap();
        }
        lanes.push(id);
    }
    let auth = format!("Bearer {}", app.read);
    let mut times = 0;
    let mut uris = vec![
        "/git/api/forge/branches".to_owned(),
        format!("/git/api/forge/branch/{branch}"),
        format!("/git/api/forge/branch/{branch}/suites"),
        format!("/git/api/forge/commit/{head}/status"),
        "/git/api/forge/branch/resolve?name=feature/x".to_owned(),
    ];
    uris.extend(lanes.iter().map(|l| format!("/news/api/forge/lane/{l}")));
    for uri in uris {
        let (status, _, bytes) = oneshot(
            app.app(),
            "GET",
            &uri,
            &[("authorization", &auth)],
            Body::empty(),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{uri}: {}",
            String::from_utf8_lossy(&bytes)
        );
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let mut problems = Vec::new();
        check(&body, "", &mut problems);
        assert!(
            problems.is_empty(),
            "{uri}:\n{}\n{body:#}",
            problems.join("\n")
        );
        times += body.to_string().matches("_at\":\"").count();
    }
    assert!(times >= 12, "the answers held times to check ({times})");
}

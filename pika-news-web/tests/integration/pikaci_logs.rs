//! The pikaci logs route read through the store's handles: the exact bytes
//! of an answer, and the range rule it shares with `pikaci logs`.

use axum::body::Body;
use axum::http::StatusCode;

use crate::support::{RUN, TestApp, oneshot};

async fn raw(app: &TestApp, uri: &str) -> (StatusCode, String) {
    let auth = format!("Bearer {}", app.read);
    let (status, _, bytes) = oneshot(
        app.app(),
        "GET",
        uri,
        &[("authorization", &auth)],
        Body::empty(),
    )
    .await;
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn a_logs_answer_is_byte_for_byte_the_contract() {
    let app = TestApp::new();
    let (status, body) = raw(
        &app,
        &format!("/news/api/forge/pikaci/logs/{RUN}?kind=host&tail=6"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        format!(
            r#"{{"run_id":"{RUN}","job":"build","host":" test\n","guest":null,"host_log":{{"offset":18,"len":6,"total_size":24,"truncated":true,"exists":true,"raw_url":"/news/api/forge/pikaci/logs/{RUN}/raw?job=build&kind=host"}}}}"#
        )
    );
}

#[tokio::test]
async fn tail_with_offset_or_limit_is_a_400_naming_the_conflict() {
    let app = TestApp::new();
    for (q, with) in [
        ("tail=5&offset=1", "offset"),
        ("tail=5&limit=1", "limit"),
        ("tail=5&offset=1&limit=1", "offset and limit"),
    ] {
        for route in [
            format!("/news/api/forge/pikaci/logs/{RUN}?{q}"),
            format!("/news/api/forge/lane/1/log?{q}"),
        ] {
            let (status, body) = app.get(&route).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{route}: {body}");
            let msg = body["error"].as_str().unwrap();
            assert!(
                msg.contains(&format!(
                    "invalid range: tail cannot be combined with {with}:"
                )),
                "{route}: {msg}"
            );
        }
    }
}

//! Hostile ids in every path-bearing URL part: a clear 400, never a file read.

use axum::http::StatusCode;
use pikaci_core::hostile::{HOSTILE_IDS, overlong_id};

use crate::support::{RUN, TestApp};

/// Percent-encodes everything but unreserved characters, so the router sees
/// the trick exactly as a client could send it.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn hostile_ids_are_400_everywhere() {
    let app = TestApp::new();
    let (branch, _, _) = app.branch().await;
    let overlong = overlong_id();
    let mut tried = 0;
    for raw in HOSTILE_IDS.iter().copied().chain([overlong.as_str()]) {
        let e = encode(raw);
        let urls = [
            format!("/news/api/forge/pikaci/run/{e}"),
            format!("/news/api/forge/pikaci/logs/{e}"),
            format!("/news/api/forge/pikaci/logs/{RUN}?job={e}"),
            format!("/news/api/forge/pikaci/logs/{e}/raw"),
            format!("/news/api/forge/pikaci/logs/{RUN}/raw?job={e}"),
            format!("/news/api/forge/branch/{branch}/logs?lane={e}"),
            format!("/news/api/forge/branch/{e}"),
        ];
        for url in urls {
            let (status, body) = app.get(&url).await;
            // An empty path segment is simply another route: 404 is right there.
            let ok = status == StatusCode::BAD_REQUEST
                || (raw.is_empty() && status == StatusCode::NOT_FOUND);
            assert!(ok, "{raw:?} at {url}: {status} {body}");
            assert!(body["error"].is_string());
            tried += 1;
        }
    }
    // Raw (unencoded) traversal in the path never escapes the route either.
    for url in [
        "/news/api/forge/pikaci/run/../../../../etc/passwd",
        "/news/api/forge/pikaci/run/..%2f..%2fetc%2fpasswd",
    ] {
        let (status, body) = app.get(url).await;
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND,
            "{url}: {status}"
        );
        assert!(!body.to_string().contains("root:"));
    }
    println!("hostile HTTP input: {tried} requests, all refused");
}

//! The OpenAPI document: served, and in step with the routes that exist.

use axum::http::StatusCode;
use pika_news_web::ROUTES;

use crate::support::{RUN, TestApp};

#[tokio::test]
async fn the_document_is_served_and_lists_every_route() {
    let app = TestApp::new();
    let (status, doc) = app.send("GET", "/news/api/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for r in ROUTES {
        assert!(
            paths[r.path][r.method.as_str()].is_object(),
            "{} {} missing",
            r.method.as_str(),
            r.path
        );
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(documented, ROUTES.len());
    // The contract's routes are all there.
    for p in [
        "/news/api/forge/pikaci/run/{run_id}",
        "/news/api/forge/pikaci/logs/{run_id}",
        "/news/api/forge/branch/{branch_id}/logs",
    ] {
        assert!(paths.contains_key(p), "{p}");
    }
}

#[tokio::test]
async fn every_documented_route_is_routed() {
    let app = TestApp::new();
    let (branch, lane, _) = app.branch().await;
    let write = format!("Bearer {}", app.write);
    for r in ROUTES {
        let uri = r
            .path
            .replace("{run_id}", RUN)
            .replace("{branch_id}", &branch.to_string())
            .replace("{lane_run_id}", &lane.to_string())
            .replace("{action}", "requeue");
        let uri = if r.path.ends_with("/resolve") {
            format!("{uri}?name=feature/x")
        } else {
            uri
        };
        let method = r.method.as_str().to_uppercase();
        let (status, body) = if r.path.ends_with("/ci") {
            // HTML: only the status matters here.
            (
                app_status(&app, &uri, &write).await,
                serde_json::Value::Null,
            )
        } else {
            app.send(&method, &uri, Some(&write)).await
        };
        assert_ne!(body["error"], "no such route", "{method} {uri}");
        assert_eq!(status, StatusCode::OK, "{method} {uri}: {body}");
    }
}

async fn app_status(app: &TestApp, uri: &str, auth: &str) -> StatusCode {
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .uri(uri)
        .header("authorization", auth)
        .body(axum::body::Body::empty())
        .unwrap();
    app.app().oneshot(req).await.unwrap().status()
}

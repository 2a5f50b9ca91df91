//! Every error is `{"error": ...}`: axum's own answers (a method a route
//! does not take, a path that does not decode) included, and the page
//! checks the token before it looks at the path.

use axum::body::Body;
use axum::http::{StatusCode, header};

use crate::support::{RUN, TestApp, oneshot};

/// Sends a request; the status, the `Allow` header and the JSON body.
async fn send(
    app: &TestApp,
    method: &str,
    uri: &str,
    auth: Option<&str>,
) -> (StatusCode, Option<String>, serde_json::Value) {
    let auth: Vec<_> = auth.map(|a| ("authorization", a)).into_iter().collect();
    let (status, headers, bytes) = oneshot(app.app(), method, uri, &auth, Body::empty()).await;
    let allow = headers
        .get(header::ALLOW)
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(
        headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap()),
        Some("application/json"),
        "{method} {uri}"
    );
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "{method} {uri}: not JSON: {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, allow, json)
}

#[tokio::test]
async fn a_method_a_route_does_not_take_is_a_json_405() {
    let app = TestApp::new();
    let token = format!("Bearer {}", app.write);
    for (method, uri, allowed) in [
        ("DELETE", "/health".to_owned(), "GET,HEAD"),
        (
            "POST",
            format!("/news/api/forge/pikaci/run/{RUN}"),
            "GET,HEAD",
        ),
        (
            "PUT",
            format!("/news/api/forge/pikaci/logs/{RUN}"),
            "GET,HEAD",
        ),
        ("GET", "/news/api/forge/wake".to_owned(), "POST"),
        ("GET", "/news/api/forge/lane/1/rerun".to_owned(), "POST"),
    ] {
        let (status, allow, body) = send(&app, method, &uri, Some(&token)).await;
        assert_eq!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}: {body}"
        );
        assert_eq!(allow.as_deref(), Some(allowed), "{method} {uri}");
        let error = body["error"].as_str().unwrap();
        // The body names the methods, as the `Allow` header does.
        let methods = allowed.replace(',', ", ");
        assert_eq!(
            error,
            format!("method not allowed: {method} {uri} takes {methods}")
                .split('?')
                .next()
                .unwrap(),
            "{method} {uri}"
        );
        assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    }
}

#[tokio::test]
async fn paths_that_do_not_decode_are_json_400s() {
    let app = TestApp::new();
    let token = format!("Bearer {}", app.read);
    for uri in [
        "/news/api/forge/pikaci/run/%FF",
        "/news/api/forge/pikaci/run/%C0%AE%C0%AE",
        "/news/api/forge/pikaci/logs/%FE%FF",
        "/news/api/forge/branch/%FF",
        "/news/api/forge/branch/%FF/logs",
        "/news/api/forge/lane/%FF/log",
    ] {
        let (status, _, body) = send(&app, "GET", uri, Some(&token)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert!(body["error"].is_string(), "{uri}: {body}");
    }
}

#[tokio::test]
async fn the_page_checks_the_token_before_the_path() {
    let app = TestApp::new();
    // A page's errors are pages (`front::*` has the rest): without a token,
    // the sign-in form, whatever the path.
    for uri in ["/news/branch/%FF/ci", "/news/branch/x/ci"] {
        let (status, headers, body) = oneshot(app.app(), "GET", uri, &[], Body::empty()).await;
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}: {body}");
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{uri}"
        );
        assert!(
            body.contains("<form method=\"post\" action=\"/news/sign-in\""),
            "{uri}: {body}"
        );
    }
    // A token in the address is not looked at: on to the sign-in form,
    // before the path is.
    let (status, headers, _) = oneshot(
        app.app(),
        "GET",
        "/news/branch/%FF/ci?token=wrong",
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers.get(header::SET_COOKIE).is_none());
    let (status, _, _) = oneshot(
        app.app(),
        "GET",
        "/news/branch/%FF/ci",
        &[("authorization", "Bearer nope")],
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // With a valid token, the path is looked at: it does not decode.
    let read = format!("Bearer {}", app.read);
    let (status, _, body) = oneshot(
        app.app(),
        "GET",
        "/news/branch/%FF/ci",
        &[("authorization", &read)],
        Body::empty(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "{}",
        String::from_utf8_lossy(&body)
    );
}

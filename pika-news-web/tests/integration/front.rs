//! The front door over HTTP: a page request's errors are pages (404 and 403
//! with breadcrumbs under the prefix asked for, 401 the sign-in form going
//! back to the page), decided by route family; the API's stay JSON.

use axum::http::{StatusCode, header};

use crate::browser::Browser;
use crate::page_env::{Answer, PageEnv, request, scene};

async fn send(env: &PageEnv, method: &str, uri: &str, headers: &[(&str, &str)]) -> Answer {
    request(env, method, uri, headers, "").await
}

fn content_type(a: &Answer) -> &str {
    a.headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

/// An HTML page of ours: the frame, its policy, its home link under `prefix`.
fn assert_page(a: &Answer, prefix: &str, what: &str) {
    assert!(
        content_type(a).starts_with("text/html"),
        "{what}: {:?} {}",
        content_type(a),
        a.body
    );
    assert!(
        a.headers
            .get(header::CONTENT_SECURITY_POLICY)
            .is_some_and(|v| v.to_str().unwrap().contains("script-src 'nonce-")),
        "{what}: no policy"
    );
    assert!(
        a.body
            .contains(&format!("<a class=\"brand\" href=\"{prefix}/ci\">")),
        "{what}: {}",
        a.body
    );
}

#[tokio::test]
async fn mistyped_and_missing_pages_are_html_404s_with_breadcrumbs() {
    let env = PageEnv::new();
    let s = scene(&env).await;
    let auth = format!("Bearer {}", env.read);
    for prefix in ["/git", "/news"] {
        for path in [
            "/nope".to_owned(),
            "/branch/1/cii".to_owned(),
            "/nightly/99".to_owned(),
            format!("/branch/{}/ci/lane/999999", s.main),
            "".to_owned(),
        ] {
            let uri = format!("{prefix}{path}");
            let a = send(&env, "GET", &uri, &[("authorization", &auth)]).await;
            assert_eq!(a.status, StatusCode::NOT_FOUND, "{uri}: {}", a.body);
            assert_page(&a, prefix, &uri);
            assert!(
                a.body
                    .contains("<span aria-current=\"page\">Page not found</span>"),
                "{uri}: {}",
                a.body
            );
            assert!(a.body.contains("<h1>Page not found</h1>"), "{uri}");
            assert!(a.body.contains("Error 404: "), "{uri}");
            assert!(
                a.body.contains(&format!("<code>{prefix}{path}</code>")),
                "{uri}"
            );
        }
    }
    // HEAD: the same status and type (the server sends no body).
    let a = send(&env, "HEAD", "/news/nope", &[("authorization", &auth)]).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(content_type(&a).starts_with("text/html"));
}

#[tokio::test]
async fn the_api_and_everything_outside_the_pages_keep_json_errors() {
    let env = PageEnv::new();
    let _ = scene(&env).await;
    let auth = format!("Bearer {}", env.read);
    for (method, uri, status) in [
        ("GET", "/news/api/nothing", StatusCode::NOT_FOUND),
        ("GET", "/git/api/forge/lane/999999", StatusCode::NOT_FOUND),
        ("GET", "/news/api/forge/branch/%FF", StatusCode::BAD_REQUEST),
        ("GET", "/nope", StatusCode::NOT_FOUND),
        ("GET", "/gitx/ci", StatusCode::NOT_FOUND),
        ("GET", "/git/auth/challenge", StatusCode::METHOD_NOT_ALLOWED),
        // Not a page: a post to a page's address, and a form route.
        ("POST", "/news/ci", StatusCode::METHOD_NOT_ALLOWED),
        ("POST", "/news/branch/1/ci/rerun", StatusCode::FORBIDDEN),
    ] {
        let a = send(&env, method, uri, &[("authorization", &auth)]).await;
        assert_eq!(a.status, status, "{method} {uri}: {}", a.body);
        assert_eq!(content_type(&a), "application/json", "{method} {uri}");
        let body: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        assert!(body["error"].is_string(), "{method} {uri}: {body}");
    }
    // Without a token the API says so in JSON, as before.
    let a = send(&env, "GET", "/news/api/forge/nightly", &[]).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.headers[header::WWW_AUTHENTICATE], "Bearer");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&a.body).unwrap()["error"],
        "a valid bearer token is required"
    );
}

#[tokio::test]
async fn a_page_without_a_valid_token_is_the_sign_in_form_going_back_to_it() {
    let env = PageEnv::new();
    let s = scene(&env).await;
    let page = format!("/git/branch/{}/ci/lane/{}?job=test", s.main, s.failed_lane);
    for headers in [
        vec![],
        vec![("cookie", "pika_news_token=pn_revoked")],
        vec![("authorization", "Bearer nope")],
    ] {
        let a = send(&env, "GET", &page, &headers).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_page(&a, "/git", &page);
        assert!(
            a.body
                .contains("<form method=\"post\" action=\"/git/sign-in\""),
            "{}",
            a.body
        );
        assert!(
            a.body.contains(&format!(
                "name=\"back\" value=\"{}\"",
                page.replace('&', "&amp;")
            )),
            "{}",
            a.body
        );
        assert!(a.body.contains("role=\"alert\""), "{}", a.body);
        assert!(a.body.contains("ph login"), "the Nostr login is named");
        assert!(a.headers.get(header::SET_COOKIE).is_none());
    }
    // The form itself, asked for, is a 200.
    let a = send(&env, "GET", "/news/sign-in?back=/news/ci", &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("<label for=\"token\">"), "{}", a.body);
}

#[tokio::test]
async fn a_cross_site_sign_in_is_an_html_403_with_a_way_on() {
    let env = PageEnv::new();
    let form = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("origin", "http://evil.example"),
        ("host", "127.0.0.1"),
    ];
    let body = format!("token={}&back=%2Fnews%2Fci", env.read);
    let a = request(&env, "POST", "/news/sign-in", &form, &body).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.body);
    assert_page(&a, "/news", "cross-site sign-in");
    assert!(a.headers.get(header::SET_COOKIE).is_none());
    assert!(
        a.body
            .contains("<span aria-current=\"page\">Not allowed</span>"),
        "{}",
        a.body
    );
    assert!(
        a.body
            .contains("Error 403: a form of another site cannot post here"),
        "{}",
        a.body
    );
    assert!(a.body.contains("href=\"/news/sign-in?back="), "{}", a.body);
}

#[tokio::test]
async fn signing_out_expires_the_cookie_and_only_from_this_site() {
    let env = PageEnv::new();
    let cookie = format!("pika_news_token={}", env.read);
    // The form offers it only to a browser holding the cookie.
    let a = send(&env, "GET", "/git/sign-in", &[("cookie", &cookie)]).await;
    assert!(
        a.body
            .contains("<form method=\"post\" action=\"/git/sign-out\""),
        "{}",
        a.body
    );
    let a = send(&env, "GET", "/git/sign-in", &[]).await;
    assert!(!a.body.contains("action=\"/git/sign-out\""), "{}", a.body);
    let a = send(&env, "POST", "/git/sign-out", &[("cookie", &cookie)]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.headers[header::LOCATION], "/git/sign-in");
    assert_eq!(
        a.headers[header::SET_COOKIE],
        "pika_news_token=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
    );
    // Another site cannot sign a visitor out: a 403 page, no cookie change.
    let a = send(
        &env,
        "POST",
        "/news/sign-out",
        &[
            ("cookie", &cookie),
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1"),
        ],
    )
    .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_page(&a, "/news", "cross-site sign-out");
    assert!(a.headers.get(header::SET_COOKIE).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_signs_in_from_the_page_it_opened_and_signs_out() {
    let env = PageEnv::new();
    let s = scene(&env).await;
    let (base, server) = env.serve().await;
    let mut b = Browser::launch();
    let page = format!("/news/branch/{}/ci", s.main);
    // Without a token the page is the form; signing in there comes back.
    b.goto(&format!("{base}{page}"));
    assert_eq!(
        b.eval("document.title"),
        serde_json::json!("Sign in · pika-news")
    );
    assert_eq!(b.eval("location.pathname"), serde_json::json!(page));
    b.click("input[name=token]");
    b.type_text(&env.read);
    b.eval("window.__leaving = true");
    b.click("form.sign-in button[type=submit]");
    b.wait_for(&format!(
        "!window.__leaving && document.readyState === 'complete' && document.querySelector('#lanes') \
         && location.pathname === {}",
        serde_json::to_string(&page).unwrap()
    ));
    // Signing out: the form again, and the pages are closed.
    b.goto(&format!("{base}/news/sign-in"));
    b.eval("window.__leaving = true");
    b.click("form.sign-out button[type=submit]");
    b.wait_for(
        "!window.__leaving && document.readyState === 'complete' \
         && location.pathname === '/news/sign-in' && !document.querySelector('form.sign-out')",
    );
    b.goto(&format!("{base}{page}"));
    assert_eq!(
        b.eval("document.title"),
        serde_json::json!("Sign in · pika-news")
    );
    // The 401 the page answered is no fault of the page.
    b.errors
        .retain(|e| !e.contains("the server responded with a status of 401"));
    b.assert_no_script_errors();
    drop(b);
    server.abort();
}

//! Write routes (lane actions, wake) and the page's own access rules.

use axum::body::Body;
use axum::http::StatusCode;

use crate::support::{TestApp, oneshot};

#[tokio::test]
async fn write_routes_need_a_write_token() {
    let app = TestApp::new();
    let (_, with_run, _) = app.branch().await;
    let routes = [
        format!("/news/api/forge/lane/{with_run}/requeue"),
        "/news/api/forge/wake".to_owned(),
    ];
    let read = format!("Bearer {}", app.read);
    let revoked = format!("Bearer {}", app.revoked);
    for route in &routes {
        assert_eq!(
            app.send("POST", route, None).await.0,
            StatusCode::UNAUTHORIZED,
            "{route}"
        );
        assert_eq!(
            app.send("POST", route, Some("Bearer nope")).await.0,
            StatusCode::UNAUTHORIZED,
            "{route}"
        );
        assert_eq!(
            app.send("POST", route, Some(&revoked)).await.0,
            StatusCode::UNAUTHORIZED,
            "{route}"
        );
        let (status, body) = app.send("POST", route, Some(&read)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{route}");
        assert_eq!(body["error"], "this needs a token with the write role");
    }
    // public_read never opens writes.
    let public = TestApp::with_public_read(true);
    assert_eq!(
        public.send("POST", "/news/api/forge/wake", None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn lane_actions_change_the_queue() {
    let app = TestApp::new();
    let (branch, with_run, without) = app.branch().await;
    let w = format!("Bearer {}", app.write);
    let (status, body) = app
        .send(
            "POST",
            &format!("/news/api/forge/lane/{with_run}/rerun"),
            Some(&w),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let new_lane = body["lane_run_id"].as_i64().unwrap();
    assert!(new_lane > without.get());
    let (_, detail) = app.get(&format!("/news/api/forge/branch/{branch}")).await;
    let lanes = detail["suites"][0]["lanes"].as_array().unwrap();
    assert_eq!(lanes.last().unwrap()["lane"], "pre-merge");
    assert_eq!(lanes.last().unwrap()["status"], "queued");

    let (status, _) = app
        .send(
            "POST",
            &format!("/news/api/forge/lane/{with_run}/requeue"),
            Some(&w),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .send(
            "POST",
            &format!("/news/api/forge/lane/{with_run}/fail"),
            Some(&w),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, detail) = app.get(&format!("/news/api/forge/branch/{branch}")).await;
    assert_eq!(detail["suites"][0]["lanes"][0]["status"], "failed");
    // Recover only applies to running lanes.
    let (status, body) = app
        .send(
            "POST",
            &format!("/news/api/forge/lane/{with_run}/recover"),
            Some(&w),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        app.send("POST", "/news/api/forge/lane/999/rerun", Some(&w))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.send(
            "POST",
            &format!("/news/api/forge/lane/{with_run}/explode"),
            Some(&w)
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.send("POST", "/news/api/forge/lane/..%2f1/rerun", Some(&w))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    let (status, body) = app.send("POST", "/news/api/forge/wake", Some(&w)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["woken"], false, "no scheduler in this test");
}

async fn page(
    app: &TestApp,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let (status, headers, body) = oneshot(app.app(), "GET", uri, headers, Body::empty()).await;
    let body = String::from_utf8(body.to_vec()).unwrap();
    (status, headers, body)
}

/// Posts the sign-in form with `token`, going back to `back`, with `headers`.
async fn sign_in(
    router: axum::Router,
    token: &str,
    back: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut all = vec![("content-type", "application/x-www-form-urlencoded")];
    all.extend_from_slice(headers);
    let body = format!("token={token}&back={}", back.replace('/', "%2F"));
    let (status, headers, body) =
        oneshot(router, "POST", "/news/sign-in", &all, Body::from(body)).await;
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn the_page_needs_a_token_or_public_read_and_only_the_sign_in_form_sets_the_cookie() {
    let app = TestApp::new();
    let (branch, _, _) = app.branch().await;
    let uri = format!("/news/branch/{branch}/ci");
    assert_eq!(page(&app, &uri, &[]).await.0, StatusCode::UNAUTHORIZED);
    // A link with a token logs nobody in: it leads to the sign-in form,
    // without the token, and sets no cookie.
    let (status, headers, _) = page(&app, &format!("{uri}?token={}", app.read), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers["location"],
        format!("/news/sign-in?back={uri}").as_str(),
        "the token leaves the address bar"
    );
    assert!(headers.get("set-cookie").is_none(), "{headers:?}");
    let (status, _, form) = page(&app, &format!("/news/sign-in?back={uri}"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        form.contains("<form method=\"post\" action=\"/news/sign-in\"")
            && form.contains("type=\"password\" name=\"token\"")
            && form.contains(&format!("name=\"back\" value=\"{uri}\"")),
        "{form}"
    );
    // Another site's form (or a page of another site posting it) is refused.
    for cross in [
        vec![("host", "ci.example"), ("origin", "https://evil.example")],
        vec![("sec-fetch-site", "cross-site")],
    ] {
        let (status, headers, _) = sign_in(app.app(), &app.read, &uri, &cross).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{cross:?}");
        assert!(headers.get("set-cookie").is_none());
    }
    let (status, headers, again) = sign_in(app.app(), "bogus", &uri, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers.get("set-cookie").is_none());
    assert!(again.contains("That token is not valid."), "{again}");
    // The user's own submission, from this server's page.
    let same = [("host", "ci.example"), ("origin", "http://ci.example")];
    let (status, headers, _) = sign_in(app.app(), &app.read, &uri, &same).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers["location"], uri.as_str());
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    let jar = cookie.split(';').next().unwrap().to_owned();
    let (status, _, html) = page(&app, &uri, &[("cookie", &jar)]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("CI for branch feature/x") && html.contains("pre-merge checks"),
        "{html}"
    );
    assert!(html.contains("data-job=\"build\""), "{html}");
    // Signed in, a link with someone else's token still changes nothing.
    let (status, headers, _) = page(
        &app,
        &format!("{uri}?token={}", app.write),
        &[("cookie", &jar)],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(headers.get("set-cookie").is_none());
    // Behind https (public_url), the cookie is Secure.
    let secure = pika_news_web::router(app.state().with_secure_cookies(true));
    let (status, headers, _) = sign_in(secure, &app.read, &uri, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("; Secure")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert_eq!(
        page(&app, &uri, &[("cookie", "pika_news_token=bogus")])
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    // A cookie never opens a write route.
    let (status, _, _) = oneshot(
        app.app(),
        "POST",
        "/news/api/forge/wake",
        &[("cookie", &jar)],
        Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let public = TestApp::with_public_read(true);
    let (branch, _, _) = public.branch().await;
    assert_eq!(
        page(&public, &format!("/news/branch/{branch}/ci"), &[])
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn branch_names_are_escaped_on_the_page() {
    let app = TestApp::new();
    let id = app
        .db
        .upsert_branch("x<script>alert(1)</script>", &"b".repeat(40))
        .await
        .unwrap();
    let auth = format!("Bearer {}", app.read);
    let (status, _, html) = page(
        &app,
        &format!("/news/branch/{id}/ci"),
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !html.contains("<script>alert(1)") && html.contains("&lt;script&gt;alert(1)"),
        "{html}"
    );
}

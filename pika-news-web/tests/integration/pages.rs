//! The pages through the router: what they show, who sees the lane buttons,
//! the forms' CSRF check, the token exchange, bad input, and escaping.

use axum::http::StatusCode;

use crate::page_env::{Answer, HOSTILE, PageEnv, nightly, request, scene};

async fn get(env: &PageEnv, uri: &str, token: &str) -> Answer {
    let auth = format!("Bearer {token}");
    request(env, "GET", uri, &[("authorization", &auth)], "").await
}

fn cookie(token: &str) -> String {
    format!("pika_news_token={token}")
}

/// The `csrf` value of the first form on a page.
fn csrf_of(html: &str) -> String {
    let at =
        html.find("name=\"csrf\" value=\"").expect("a lane form") + "name=\"csrf\" value=\"".len();
    html[at..at + 32].to_owned()
}

#[tokio::test]
async fn the_overview_lists_every_branch_with_its_latest_suite() {
    let env = PageEnv::new();
    let s = scene(&env).await;
    let page = get(&env, "/news/ci", &env.read).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'nonce-"), "{csp}");
    let html = &page.body;
    let row = |id| {
        let at = html
            .find(&format!("<tr data-branch=\"{id}\">"))
            .unwrap_or_else(|| panic!("no row for {id}: {html}"));
        let end = html[at..].find("</tr>").unwrap();
        html[at..at + end].to_owned()
    };
    let main = row(s.main);
    assert!(
        main.contains("st-failed") && main.contains(">main</a>"),
        "{main}"
    );
    assert!(main.contains(&format!("#{}", s.latest)), "{main}");
    assert!(
        main.contains("<span class=\"p\">9 passed</span> <span class=\"f\">1 failed</span>"),
        "{main}"
    );
    assert!(main.contains("ran 24m 31s"), "{main}");
    assert!(
        main.contains("title=\"2026-03-24 17:03:13 UTC\""),
        "the exact time on hover: {main}"
    );
    let hostile = row(s.hostile);
    assert!(
        hostile.contains("st-running") && hostile.contains("1 running"),
        "{hostile}"
    );
    let quiet = row(s.empty);
    assert!(quiet.contains("no runs"), "{quiet}");
    assert_no_injection(html);
}

/// No hostile markup made it into a page as markup.
fn assert_no_injection(html: &str) {
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("onerror=\"window"), "{html}");
    // The page's own scripts, both allowed by the nonce: the theme's (in
    // the head) and the viewer's.
    assert_eq!(
        html.matches("<script").count(),
        2,
        "only the page's own scripts: {html}"
    );
    assert_eq!(html.matches("<script nonce=\"").count(), 2, "{html}");
    assert!(!html.contains("window.__xss=2</script>"), "{html}");
}

#[tokio::test]
async fn the_branch_page_has_the_summary_line_lanes_jobs_and_history() {
    let env = PageEnv::new();
    let s = scene(&env).await;
    let html = get(&env, &format!("/news/branch/{}/ci", s.main), &env.read)
        .await
        .body;
    let line = format!(
        "title=\"Latest run #{} failed · 9 passed 1 failed · queued 2m 08s · ran 24m 31s\"",
        s.latest
    );
    assert!(html.contains(&line), "{html}");
    assert_eq!(html.matches("<tr data-lane=").count(), 10, "{html}");
    // Jobs with their durations, each a link to its log.
    assert!(
        html.contains(&format!(
            "href=\"/news/branch/{}/ci/lane/{}?job=test\" data-job=\"test\"",
            s.main, s.failed_lane
        )),
        "{html}"
    );
    assert!(
        html.contains("24m 25s"),
        "the failed job's duration: {html}"
    );
    assert!(html.contains("· test_failure"), "{html}");
    assert!(
        html.contains(&format!("id=\"suite-{}\"", s.older)),
        "the earlier suite: {html}"
    );
    // A reader sees no buttons.
    assert!(!html.contains("<form"), "{html}");
    let hostile = get(&env, &format!("/news/branch/{}/ci", s.hostile), &env.read).await;
    assert_eq!(hostile.status, StatusCode::OK);
    assert!(
        hostile.body.contains("feature/x&quot;'&gt;&lt;img src=x"),
        "{}",
        hostile.body
    );
    assert_no_injection(&hostile.body);
}

#[tokio::test]
async fn the_lane_page_shows_a_log_with_numbered_coloured_lines() {
    let env = PageEnv::new();
    let s = scene(&env).await;
    let base = format!("/news/branch/{}/ci/lane/{}", s.main, s.failed_lane);
    let html = get(&env, &base, &env.read).await.body;
    // The failed job opens by default, its output log.
    assert!(
        html.contains("class=\"cur\" aria-current=\"page\" data-job=\"test\""),
        "{html}"
    );
    // Numbered, linked, dated (the store dated the writes), coloured, and
    // marked as an error-looking line.
    let l3 = &html[html
        .find("<div class=\"l err\" id=\"L3\">")
        .expect("line 3")..];
    let l3 = &l3[..l3.find("</div>").unwrap()];
    assert!(l3.starts_with("<div class=\"l err\" id=\"L3\"><a class=\"n\" href=\"#L3\" data-n=\"3\" aria-label=\"Line 3\"></a><span class=\"t\" title=\""), "{l3}");
    assert!(
        l3.ends_with("<span class=\"x\"><span class=\"f1\">test b ... FAILED</span></span>"),
        "{l3}"
    );
    assert!(html.contains("End of log · 3 lines"), "{html}");
    assert!(html.contains("/news/api/forge/pikaci/logs/20260324T170900Z-00000009/raw?job=test&amp;kind=guest&amp;download=1"), "{html}");
    let host = get(&env, &format!("{base}?job=test&kind=host"), &env.read)
        .await
        .body;
    assert!(host.contains("[pikaci] command exited with 101"), "{host}");
    env.write_lane_log(s.failed_lane, b"lane said this\n");
    let lane = get(&env, &format!("{base}?kind=lane"), &env.read)
        .await
        .body;
    assert!(
        lane.contains("lane said this") && lane.contains("data-json=\"/news/api/forge/lane/"),
        "{lane}"
    );
    // Bad input is a clear error, as a page saying what was wrong;
    // another branch's lane is not found.
    for (q, status) in [
        ("?job=ghost", StatusCode::NOT_FOUND),
        ("?kind=bogus", StatusCode::BAD_REQUEST),
        ("?job=..%2Fx", StatusCode::BAD_REQUEST),
        ("?line=x", StatusCode::BAD_REQUEST),
    ] {
        let a = get(&env, &format!("{base}{q}"), &env.read).await;
        assert_eq!(a.status, status, "{q}: {}", a.body);
        assert!(
            a.body.contains(&format!("Error {}: ", status.as_u16())),
            "{q}: {}",
            a.body
        );
    }
    for uri in [
        "/news/branch/%FF/ci".to_owned(),
        format!("/news/branch/{}/ci/lane/%FF%FE", s.main),
        format!("{base}?job=%FF"),
    ] {
        let a = get(&env, &uri, &env.read).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{uri}: {}", a.body);
        assert!(a.body.contains("Error 400: "), "{uri}: {}", a.body);
    }
    let other = get(
        &env,
        &format!("/news/branch/{}/ci/lane/{}", s.hostile, s.failed_lane),
        &env.read,
    )
    .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let hostile = get(
        &env,
        &format!("/news/branch/{}/ci/lane/{}", s.hostile, s.hostile_lane),
        &env.read,
    )
    .await;
    assert_eq!(hostile.status, StatusCode::OK);
    assert!(
        hostile.body.contains("data-live=\"1\"")
            && hostile.body.contains("log x&quot;'&gt;&lt;img"),
        "{}",
        hostile.body
    );
    assert_no_injection(&hostile.body);
}

#[tokio::test]
async fn a_long_log_opens_at_its_tail_or_at_a_line() {
    let env = PageEnv::new();
    let s = scene(&env).await;
    let many: String = (4..=60_000).map(|i| format!("line {i}\n")).collect();
    env.write_log(
        &s.failed_run,
        "test",
        pikaci_core::LogFile::Guest,
        many.as_bytes(),
    );
    let base = format!("/news/branch/{}/ci/lane/{}?job=test", s.main, s.failed_lane);
    let tail = get(&env, &base, &env.read).await.body;
    assert!(
        tail.contains("id=\"L60000\"") && !tail.contains("id=\"L10\""),
        "the tail only"
    );
    assert!(
        tail.contains("id=\"earlier\"") && tail.contains("Load earlier lines ("),
        "{}",
        &tail[..2000]
    );
    let at = get(&env, &format!("{base}&line=120"), &env.read).await.body;
    assert!(
        at.contains("id=\"L100\"") && at.contains("<span class=\"x\">line 120</span>"),
        "{}",
        &at[..3000]
    );
    assert!(
        at.contains("id=\"later\""),
        "a window in the middle links to later lines"
    );
}

#[tokio::test]
async fn only_a_write_token_in_the_cookie_sees_and_uses_the_lane_buttons() {
    let env = PageEnv::new();
    let s = scene(&env).await;
    let uri = format!("/news/branch/{}/ci", s.main);
    let as_reader = request(&env, "GET", &uri, &[("cookie", &cookie(&env.read))], "")
        .await
        .body;
    assert!(!as_reader.contains("<form"));
    let as_writer = request(&env, "GET", &uri, &[("cookie", &cookie(&env.write))], "")
        .await
        .body;
    assert!(
        as_writer.contains(&format!(
            "action=\"/news/api/forge/lane/{}/rerun\"",
            s.failed_lane
        )) && as_writer.contains(&format!(
            "action=\"/news/api/forge/lane/{}/requeue\"",
            s.failed_lane
        )),
        "{as_writer}"
    );
    assert!(!as_writer.contains(&format!("/news/api/forge/lane/{}/fail\"", s.failed_lane)));
    let csrf = csrf_of(&as_writer);
    let action = format!("/news/api/forge/lane/{}/rerun", s.failed_lane);
    let form = "application/x-www-form-urlencoded";
    let post = |headers: Vec<(&'static str, String)>, body: String| {
        let env = &env;
        let action = action.clone();
        async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            request(env, "POST", &action, &h, &body).await
        }
    };
    let lanes_before = env.db.suites(s.main).await.unwrap()[0].lanes.len();
    // Without the field, with a wrong one, from another site, with a read token: refused.
    let w = cookie(&env.write);
    for (headers, body, status) in [
        (
            vec![("cookie", w.clone()), ("content-type", form.to_owned())],
            "back=/news/ci".to_owned(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            vec![("cookie", w.clone()), ("content-type", form.to_owned())],
            format!("csrf={}", "0".repeat(32)),
            StatusCode::UNAUTHORIZED,
        ),
        (
            vec![
                ("cookie", w.clone()),
                ("content-type", form.to_owned()),
                ("origin", "http://evil.example".to_owned()),
                ("host", "127.0.0.1".to_owned()),
            ],
            format!("csrf={csrf}"),
            StatusCode::FORBIDDEN,
        ),
        (
            vec![
                ("cookie", cookie(&env.read)),
                ("content-type", form.to_owned()),
            ],
            format!("csrf={csrf}"),
            StatusCode::UNAUTHORIZED,
        ),
        (
            vec![("content-type", form.to_owned())],
            format!("csrf={csrf}"),
            StatusCode::UNAUTHORIZED,
        ),
    ] {
        let a = post(headers.clone(), body.clone()).await;
        assert_eq!(a.status, status, "{headers:?} {body}: {}", a.body);
        assert!(serde_json::from_str::<serde_json::Value>(&a.body).unwrap()["error"].is_string());
    }
    assert_eq!(
        env.db.suites(s.main).await.unwrap()[0].lanes.len(),
        lanes_before
    );
    // The page's own form: done, and back to the page.
    let a = post(
        vec![
            ("cookie", w.clone()),
            ("content-type", form.to_owned()),
            ("origin", "http://127.0.0.1".to_owned()),
            ("host", "127.0.0.1".to_owned()),
        ],
        format!("csrf={csrf}&back={}", uri.replace('/', "%2F")),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.body);
    assert_eq!(a.headers["location"], uri.as_str());
    assert_eq!(
        env.db.suites(s.main).await.unwrap()[0].lanes.len(),
        lanes_before + 1
    );
    // Somewhere else is never gone back to.
    let a = post(
        vec![("cookie", w.clone()), ("content-type", form.to_owned())],
        format!("csrf={csrf}&back=%2F%2Fevil.example%2F"),
    )
    .await;
    assert_eq!(a.headers["location"], "/news/ci");
    // The API is unchanged: the header, answered with JSON.
    let auth = format!("Bearer {}", env.write);
    let a = request(&env, "POST", &action, &[("authorization", &auth)], "").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert!(serde_json::from_str::<serde_json::Value>(&a.body).unwrap()["lane_run_id"].is_number());
    // A write token presented as a header sees the page without buttons (a
    // form could not carry the header).
    let by_header = get(&env, &uri, &env.write).await.body;
    assert!(!by_header.contains("<form"));
}

#[tokio::test]
async fn pages_check_the_caller_before_the_path_and_sign_in_only_by_the_form() {
    let env = PageEnv::new();
    let s = scene(&env).await;
    for uri in [
        "/news/ci".to_owned(),
        "/news/branch/abc/ci".to_owned(),
        format!("/news/branch/{}/ci", s.main),
        "/news/branch/1/ci/lane/zzz".to_owned(),
        format!("/news/branch/{}/ci/lane/{}", s.main, s.failed_lane),
    ] {
        let a = request(&env, "GET", &uri, &[], "").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{uri}: {}", a.body);
        let a = request(
            &env,
            "GET",
            &uri,
            &[("cookie", "pika_news_token=bogus")],
            "",
        )
        .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    // A link with a token leads to the sign-in form, keeping the page's
    // other parameters for afterwards; no cookie is set.
    let uri = format!(
        "/news/branch/{}/ci/lane/{}?job=test&token={}&kind=host",
        s.main, s.failed_lane, env.read
    );
    let a = request(&env, "GET", &uri, &[], "").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(
        a.headers["location"],
        format!(
            "/news/sign-in?back=/news/branch/{}/ci/lane/{}%3Fjob%3Dtest%26kind%3Dhost",
            s.main, s.failed_lane
        )
        .as_str()
    );
    assert!(a.headers.get("set-cookie").is_none());
    let a = request(&env, "GET", "/news/ci?token=pn_wrong", &[], "").await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert!(a.headers.get("set-cookie").is_none());
    // The form's token cannot add cookie attributes.
    let a = request(
        &env,
        "POST",
        "/news/sign-in",
        &[("content-type", "application/x-www-form-urlencoded")],
        "token=x%3B%20Path%3D%2F&back=%2Fnews%2Fci",
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(a.headers.get("set-cookie").is_none());
    let a = request(
        &env,
        "POST",
        "/news/sign-in",
        &[("content-type", "application/x-www-form-urlencoded")],
        &format!("token={}&back=%2F%2Fevil.example%2F", env.read),
    )
    .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(
        a.headers["location"], "/news/ci",
        "only a page of this server"
    );
    let set = a.headers["set-cookie"].to_str().unwrap();
    assert!(
        set.contains("HttpOnly")
            && set.contains("SameSite=Strict")
            && set.split("; ").any(|a| a == "Path=/"),
        "{set}"
    );
}

#[tokio::test]
async fn hostile_text_is_escaped_everywhere() {
    let env = PageEnv::new();
    let s = scene(&env).await;
    for uri in [
        "/news/ci".to_owned(),
        format!("/news/branch/{}/ci", s.hostile),
        format!("/news/branch/{}/ci/lane/{}", s.hostile, s.hostile_lane),
        format!(
            "/news/branch/{}/ci/lane/{}?kind=host",
            s.hostile, s.hostile_lane
        ),
    ] {
        let a = get(&env, &uri, &env.read).await;
        assert_eq!(a.status, StatusCode::OK, "{uri}");
        assert_no_injection(&a.body);
        assert!(!a.body.contains(HOSTILE), "{uri} has the raw text");
    }
}

#[tokio::test]
async fn nightly_runs_are_listed_and_have_their_own_pages() {
    let env = PageEnv::new();
    let s = scene(&env).await;
    let (id, passed, failed) = nightly(&env, s.main).await;
    let ci = get(&env, "/news/ci", &env.read).await.body;
    assert!(
        ci.contains("id=\"nightly\"") && ci.contains(&format!("<tr data-nightly=\"{id}\">")),
        "{ci}"
    );
    assert!(ci.contains(&format!("href=\"/news/nightly/{id}\"")), "{ci}");
    // The branch's own latest run is still its latest push, not the nightly.
    let main = get(&env, &format!("/news/branch/{}/ci", s.main), &env.read)
        .await
        .body;
    assert!(
        main.contains(&format!(
            "Latest run #{} failed · 9 passed 1 failed",
            s.latest
        )),
        "{main}"
    );
    let page = get(&env, &format!("/news/nightly/{id}"), &env.read).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains(&format!(
            "title=\"Nightly run #{id} failed · 1 passed 1 failed · queued 30s · ran 1m 40s\""
        )),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!(
            "href=\"/news/nightly/{id}/lane/{passed}?job=emulator\""
        )),
        "{}",
        page.body
    );
    // Where its lanes came from, on the page and in the answer.
    assert!(
        page.body.contains(
            "<p class=\"muted lane-source\">Lanes from the CI targets of pikaci.toml at the head.</p>"
        ),
        "{}",
        page.body
    );
    let answer = get(&env, &format!("/news/api/forge/nightly/{id}"), &env.read).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let answer: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(answer["lane_source"], "head_pipeline", "{answer}");
    let lane = get(
        &env,
        &format!("/news/nightly/{id}/lane/{passed}"),
        &env.read,
    )
    .await;
    assert_eq!(lane.status, StatusCode::OK, "{}", lane.body);
    assert!(
        lane.body.contains("<span class=\"x\">all green</span>")
            && lane
                .body
                .contains(&format!("href=\"/news/nightly/{id}\">nightly #{id}</a>")),
        "{}",
        lane.body
    );
    let other = get(
        &env,
        &format!("/news/nightly/{id}/lane/{}", s.failed_lane),
        &env.read,
    )
    .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    let missing = get(&env, "/news/nightly/99", &env.read).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let _ = failed;
    assert_eq!(
        request(&env, "GET", &format!("/news/nightly/{id}"), &[], "")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

/// Every address a page prints stays under the prefix the page was asked
/// for under: a page under `/git` links only to `/git`, one under `/news`
/// only to `/news` (the home link, branches, lanes, logs and lane forms).
#[tokio::test]
async fn pages_link_under_the_prefix_they_were_asked_for_under() {
    let env = PageEnv::new();
    let s = scene(&env).await;
    for (prefix, other) in [("/git", "/news"), ("/news", "/git")] {
        for page in [
            format!("{prefix}/ci"),
            format!("{prefix}/branch/{}/ci", s.main),
            format!("{prefix}/branch/{}/ci/lane/{}", s.main, s.failed_lane),
            format!(
                "{prefix}/branch/{}/ci/lane/{}?kind=lane",
                s.main, s.failed_lane
            ),
        ] {
            let a = request(&env, "GET", &page, &[("cookie", &cookie(&env.write))], "").await;
            assert_eq!(a.status, StatusCode::OK, "{page}: {}", a.body);
            let html = &a.body;
            for attr in ["href", "action", "data-raw", "data-stream", "data-json"] {
                assert!(
                    !html.contains(&format!("{attr}=\"{other}/")),
                    "{page} has a {attr} under {other}: {html}"
                );
            }
            assert!(
                html.contains(&format!("class=\"brand\" href=\"{prefix}/ci\"")),
                "{page}: {html}"
            );
        }
        let branch = request(
            &env,
            "GET",
            &format!("{prefix}/branch/{}/ci", s.main),
            &[("cookie", &cookie(&env.write))],
            "",
        )
        .await
        .body;
        assert!(
            branch.contains(&format!(
                "action=\"{prefix}/api/forge/lane/{}/rerun\"",
                s.failed_lane
            )) && branch.contains(&format!(
                "href=\"{prefix}/branch/{}/ci/lane/{}?job=test\"",
                s.main, s.failed_lane
            )),
            "{branch}"
        );
        let lane = request(
            &env,
            "GET",
            &format!("{prefix}/branch/{}/ci/lane/{}", s.main, s.failed_lane),
            &[("cookie", &cookie(&env.read))],
            "",
        )
        .await
        .body;
        assert!(
            lane.contains(&format!("data-raw=\"{prefix}/api/forge/pikaci/logs/"))
                && lane.contains(&format!("data-stream=\"{prefix}/api/forge/pikaci/logs/")),
            "{lane}"
        );
    }
}

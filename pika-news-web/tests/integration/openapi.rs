//! The OpenAPI document: served, in step with the routes that exist, valid
//! by a real OpenAPI validator, and every answer the routes give matches the
//! schema the document gives for it.

use std::process::Command;

use axum::http::StatusCode;
use camino::{Utf8Path, Utf8PathBuf};
use pika_news_web::ROUTES;
use pika_news_web::served_paths;
use pika_news_web::{Method, RouteDoc};

use crate::support::{RUN, TestApp};
use pika_news_core::db::Role;
use pika_news_core::login::testing::TestSigner;

#[tokio::test]
async fn the_document_is_served_and_lists_every_route() {
    let app = TestApp::new();
    let (status, doc) = app.send("GET", "/git/api/openapi.json", None).await;
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
    assert!(
        doc["info"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("also served under /news")),
        "the older prefix is noted"
    );
    // The contract's routes are all there.
    for p in [
        "/git/api/forge/pikaci/run/{run_id}",
        "/git/api/forge/pikaci/logs/{run_id}",
        "/git/api/forge/branch/{branch_id}/logs",
    ] {
        assert!(paths.contains_key(p), "{p}");
    }
}

#[tokio::test]
async fn every_documented_route_is_routed_under_both_prefixes() {
    let served: Vec<(&RouteDoc, String)> = ROUTES
        .iter()
        .flat_map(|r| served_paths(r.path).into_iter().map(move |p| (r, p)))
        .collect();
    // Every route but `/` and `/health` is served under /news as well.
    assert_eq!(served.len(), 2 * ROUTES.len() - 2);
    for (r, path) in served {
        if path.ends_with("/merge") || path.ends_with("/close") {
            // Merge and close need a real repository and a green branch.
            let site = crate::merge::Site::new().await;
            site.finish_ci(pika_news_core::db::LaneStatus::Passed).await;
            let uri = path.replace("{branch_id}", &site.branch.to_string());
            let (status, body) = site
                .post(pika_news_core::forge::MergePolicy::Green, &uri, &site.write)
                .await;
            assert_eq!(status.as_u16(), r.answer.status, "POST {uri}: {body}");
            continue;
        }
        // A fresh app per route: each action finds its lane in a state it allows.
        let app = TestApp::new();
        app.write_prepared_outputs();
        let (branch, with_run, without) = app.branch().await;
        let (nightly, failed, queued) = app.nightly().await;
        let write = format!("Bearer {}", app.write);
        let fails = r.path.contains("/fail/");
        let suite = app.db.suites(branch).await.unwrap()[0].id;
        let uri = path
            .replace(
                "{run_id}",
                &if r.path.contains("/ci/recover/") {
                    suite.to_string()
                } else {
                    RUN.to_owned()
                },
            )
            .replace("{branch_id}", &branch.to_string())
            .replace("{sha}", &"a".repeat(40))
            .replace("{nightly_run_id}", &nightly.to_string())
            .replace(
                "{lane_run_id}",
                &match (r.path.starts_with("/git/nightly/"), fails) {
                    (false, true) => without,
                    (false, false) => with_run,
                    (true, true) => queued,
                    (true, false) => failed,
                }
                .to_string(),
            )
            .replace("{action}", "requeue");
        let uri = if r.path.ends_with("/resolve") {
            format!("{uri}?name=feature/x")
        } else {
            uri
        };
        let method = r.method.as_str().to_uppercase();
        let prefix = if uri.starts_with("/news/") {
            "/news"
        } else {
            "/git"
        };
        let admin = format!(
            "Bearer {}",
            app.db.create_token("admin", Role::Admin).unwrap()
        );
        let (status, body) = if uri.ends_with("/auth/verify") {
            let event = app.admin_login_body(prefix).await;
            app.send_json(&method, &uri, None, &event).await
        } else if uri.ends_with("/api/admin/allowlist") && method == "POST" {
            let entry = serde_json::json!({"npub": TestSigner::from_seed(5).npub().to_string(), "active": true});
            app.send_json(&method, &uri, Some(&admin), &entry).await
        } else if uri.ends_with("/api/admin/allowlist") {
            app.send(&method, &uri, Some(&admin)).await
        } else if r.answer.is_json() {
            app.send(&method, &uri, Some(&write)).await
        } else {
            // HTML, text, events or a redirect: only the status matters here.
            (
                app_status(&app, &method, &uri, &write).await,
                serde_json::Value::Null,
            )
        };
        assert_ne!(body["error"], "no such route", "{method} {uri}");
        assert_eq!(status.as_u16(), r.answer.status, "{method} {uri}: {body}");
    }
}

async fn app_status(app: &TestApp, method: &str, uri: &str, auth: &str) -> StatusCode {
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", auth);
    // The sign-in form's post carries a token in its body, not a header.
    let req = if method == "POST" && uri.ends_with("/sign-in") {
        req.header("content-type", "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(format!(
                "token={}&back=%2Fnews%2Fci",
                app.read
            )))
    } else {
        req.body(axum::body::Body::empty())
    };
    app.app().oneshot(req.unwrap()).await.unwrap().status()
}

/// One answer to check: the route's path template, the request and what came back.
struct Example {
    method: Method,
    path: &'static str,
    uri: String,
    auth: Option<String>,
    body: Option<serde_json::Value>,
}

fn example(
    method: Method,
    path: &'static str,
    uri: impl Into<String>,
    auth: Option<&str>,
) -> Example {
    Example {
        method,
        path,
        uri: uri.into(),
        auth: auth.map(|t| format!("Bearer {t}")),
        body: None,
    }
}

impl Example {
    fn with_body(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }
}

#[tokio::test]
async fn the_document_is_valid_and_every_answer_matches_its_schema() {
    let app = TestApp::new();
    app.write_prepared_outputs();
    let (branch, with_run, without) = app.branch().await;
    let (nightly, nightly_failed, nightly_queued) = app.nightly().await;
    let suite = app.db.suites(branch).await.unwrap()[0].id;
    // A lane log on disk, so the lane log answer has text.
    app.write_lane_log(
        with_run,
        b"[pika-news] running: pikaci run ci --output jsonl\n",
    );
    // A corrupt record, for a 500.
    let corrupt: pikaci_core::RunId = "20260324T161239Z-00000001".parse().unwrap();
    let path = app.store.root().run_json(&corrupt);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "{\"run_id\": tru").unwrap();
    // A run the earlier pikaci wrote: keys this version does not model, an id
    // without a time, its guest log in artifacts/.
    let upstream = "pikaci-run-123";
    pikaci_store::testing::UpstreamRun::new(upstream)
        .write(&pikaci_store::DiskFs::new(), app.store.root())
        .unwrap();

    let (r, w) = (Some(app.read.as_str()), Some(app.write.as_str()));
    let (get, post) = (Method::Get, Method::Post);
    let run = "/git/api/forge/pikaci/run/{run_id}";
    let logs = "/git/api/forge/pikaci/logs/{run_id}";
    let prepared = "/git/api/forge/pikaci/prepared-outputs/{run_id}";
    let raw = "/git/api/forge/pikaci/logs/{run_id}/raw";
    let stream = "/git/api/forge/pikaci/logs/{run_id}/stream";
    let resolve = "/git/api/forge/branch/resolve";
    let detail = "/git/api/forge/branch/{branch_id}";
    let branch_logs = "/git/api/forge/branch/{branch_id}/logs";
    let lane_log = "/git/api/forge/lane/{lane_run_id}/log";
    let branches = "/git/api/forge/branches";
    let suites = "/git/api/forge/branch/{branch_id}/suites";
    let one_lane = "/git/api/forge/lane/{lane_run_id}";
    let commit = "/git/api/forge/commit/{sha}/status";
    let action = "/git/api/forge/lane/{lane_run_id}/{action}";
    let wake = "/git/api/forge/wake";
    let ci_wake = "/git/api/forge/ci/wake";
    let me = "/git/api/me";
    let b_fail = "/git/branch/{branch_id}/ci/fail/{lane_run_id}";
    let b_requeue = "/git/branch/{branch_id}/ci/requeue/{lane_run_id}";
    let b_rerun = "/git/branch/{branch_id}/ci/rerun/{lane_run_id}";
    let b_recover = "/git/branch/{branch_id}/ci/recover/{run_id}";
    let n_list = "/git/api/forge/nightly";
    let n_detail = "/git/api/forge/nightly/{nightly_run_id}";
    let n_fail = "/git/nightly/{nightly_run_id}/fail/{lane_run_id}";
    let n_requeue = "/git/nightly/{nightly_run_id}/requeue/{lane_run_id}";
    let n_rerun = "/git/nightly/{nightly_run_id}/rerun/{lane_run_id}";
    let n_recover = "/git/nightly/{nightly_run_id}/recover";
    let b_suite_rerun = "/git/branch/{branch_id}/ci/rerun";
    let n_suite_rerun = "/git/nightly/{nightly_run_id}/rerun";
    let admin = app.db.create_token("admin", Role::Admin).unwrap();
    let a = Some(admin.as_str());
    let (challenge, verify, allowlist) = (
        "/git/auth/challenge",
        "/git/auth/verify",
        "/git/api/admin/allowlist",
    );
    let dev = serde_json::json!({
        "npub": TestSigner::from_seed(5).npub().to_string(),
        "note": "dev",
        "active": true,
        "can_forge_write": true,
    });
    let examples = [
        example(post, challenge, challenge, None),
        example(post, verify, verify, None).with_body(app.admin_login_body("/git").await),
        example(post, verify, verify, None).with_body(serde_json::json!({"event": "{}"})),
        example(post, allowlist, allowlist, a).with_body(dev),
        example(get, allowlist, allowlist, a),
        example(get, allowlist, allowlist, w),
        example(get, "/health", "/health", None),
        example(get, "/git/api/openapi.json", "/git/api/openapi.json", None),
        example(get, run, format!("/git/api/forge/pikaci/run/{RUN}"), r),
        example(get, run, format!("/git/api/forge/pikaci/run/{upstream}"), r),
        example(
            get,
            prepared,
            format!("/git/api/forge/pikaci/prepared-outputs/{RUN}"),
            r,
        ),
        example(
            get,
            prepared,
            format!("/git/api/forge/pikaci/prepared-outputs/{upstream}"),
            r,
        ),
        example(
            get,
            logs,
            format!("/git/api/forge/pikaci/logs/{upstream}?kind=guest"),
            r,
        ),
        example(
            get,
            run,
            "/git/api/forge/pikaci/run/20990101T000000Z-00000000",
            r,
        ),
        example(get, run, "/git/api/forge/pikaci/run/..%2fx", r),
        example(get, run, format!("/git/api/forge/pikaci/run/{RUN}"), None),
        example(get, run, format!("/git/api/forge/pikaci/run/{corrupt}"), r),
        example(get, logs, format!("/git/api/forge/pikaci/logs/{RUN}"), r),
        example(
            get,
            logs,
            format!("/git/api/forge/pikaci/logs/{RUN}?kind=guest&tail=12"),
            r,
        ),
        example(
            get,
            logs,
            format!("/git/api/forge/pikaci/logs/{RUN}?kind=host&offset=9&limit=4"),
            r,
        ),
        example(
            get,
            logs,
            format!("/git/api/forge/pikaci/logs/{RUN}?kind=all"),
            r,
        ),
        example(
            get,
            logs,
            format!("/git/api/forge/pikaci/logs/{RUN}?job=ghost"),
            r,
        ),
        example(
            get,
            raw,
            format!("/git/api/forge/pikaci/logs/{RUN}/raw?kind=both"),
            r,
        ),
        example(
            get,
            raw,
            format!("/git/api/forge/pikaci/logs/{RUN}/raw?job=ghost"),
            r,
        ),
        example(
            get,
            raw,
            format!("/git/api/forge/pikaci/logs/{RUN}/raw"),
            None,
        ),
        example(
            get,
            stream,
            format!("/git/api/forge/pikaci/logs/{RUN}/stream?offset=x"),
            r,
        ),
        example(
            get,
            stream,
            format!("/git/api/forge/pikaci/logs/{RUN}/stream?job=ghost"),
            r,
        ),
        example(
            get,
            resolve,
            "/git/api/forge/branch/resolve?name=feature/x",
            r,
        ),
        example(get, resolve, "/git/api/forge/branch/resolve", r),
        example(get, resolve, "/git/api/forge/branch/resolve?name=nope", r),
        example(get, detail, format!("/git/api/forge/branch/{branch}"), r),
        example(get, detail, "/git/api/forge/branch/424242", r),
        example(get, detail, "/git/api/forge/branch/x", r),
        example(
            get,
            branch_logs,
            format!("/git/api/forge/branch/{branch}/logs"),
            r,
        ),
        example(
            get,
            branch_logs,
            format!("/git/api/forge/branch/{branch}/logs?lane=pre-merge"),
            r,
        ),
        example(
            get,
            branch_logs,
            format!("/git/api/forge/branch/{branch}/logs?lane_run_id=9999"),
            r,
        ),
        example(
            get,
            lane_log,
            format!("/git/api/forge/lane/{with_run}/log"),
            r,
        ),
        example(
            get,
            lane_log,
            format!("/git/api/forge/lane/{without}/log?tail=5"),
            r,
        ),
        example(get, lane_log, "/git/api/forge/lane/999/log", r),
        example(
            post,
            b_suite_rerun,
            format!("/git/branch/{branch}/ci/rerun?failed=1"),
            w,
        ),
        example(
            post,
            b_suite_rerun,
            format!("/git/branch/{branch}/ci/rerun?failed=1"),
            w,
        ),
        example(post, b_suite_rerun, "/git/branch/424242/ci/rerun", w),
        example(
            post,
            n_suite_rerun,
            format!("/git/nightly/{nightly}/rerun"),
            w,
        ),
        example(get, branches, "/git/api/forge/branches", r),
        example(get, branches, "/git/api/forge/branches?limit=1", r),
        example(get, branches, "/git/api/forge/branches?limit=0", r),
        example(
            get,
            suites,
            format!("/git/api/forge/branch/{branch}/suites"),
            r,
        ),
        example(get, suites, "/git/api/forge/branch/424242/suites", r),
        example(get, one_lane, format!("/git/api/forge/lane/{with_run}"), r),
        example(get, one_lane, "/git/api/forge/lane/999", r),
        example(
            get,
            commit,
            format!("/git/api/forge/commit/{}/status", "a".repeat(40)),
            r,
        ),
        example(get, commit, "/git/api/forge/commit/xyz/status", r),
        example(
            post,
            action,
            format!("/git/api/forge/lane/{with_run}/requeue"),
            w,
        ),
        example(
            post,
            action,
            format!("/git/api/forge/lane/{with_run}/rerun"),
            w,
        ),
        example(
            post,
            action,
            format!("/git/api/forge/lane/{with_run}/explode"),
            w,
        ),
        example(post, action, "/git/api/forge/lane/999/rerun", w),
        example(
            post,
            action,
            format!("/git/api/forge/lane/{with_run}/fail"),
            r,
        ),
        example(
            post,
            action,
            format!("/git/api/forge/lane/{with_run}/fail"),
            None,
        ),
        example(post, wake, "/git/api/forge/wake", w),
        example(post, wake, "/git/api/forge/wake", r),
        // What upstream's `ph` calls.
        example(
            get,
            resolve,
            "/git/api/forge/branch/resolve?branch_name=feature%2Fx",
            r,
        ),
        example(get, me, "/git/api/me", r),
        example(get, me, "/git/api/me", None),
        example(post, ci_wake, "/git/api/forge/ci/wake", w),
        example(post, ci_wake, "/git/api/forge/ci/wake", r),
        example(
            post,
            b_fail,
            format!("/git/branch/{branch}/ci/fail/{without}"),
            w,
        ),
        example(
            post,
            b_fail,
            format!("/git/branch/{branch}/ci/fail/{without}"),
            w,
        ),
        example(
            post,
            b_rerun,
            format!("/git/branch/{branch}/ci/rerun/{without}"),
            w,
        ),
        example(
            post,
            b_requeue,
            format!("/git/branch/{branch}/ci/requeue/{without}"),
            w,
        ),
        example(
            post,
            b_requeue,
            format!("/git/branch/{branch}/ci/requeue/{nightly_failed}"),
            w,
        ),
        example(
            post,
            b_recover,
            format!("/git/branch/{branch}/ci/recover/{suite}"),
            w,
        ),
        example(
            post,
            b_recover,
            format!("/git/branch/{branch}/ci/recover/999"),
            w,
        ),
        example(get, n_list, "/git/api/forge/nightly", r),
        example(
            get,
            n_detail,
            format!("/git/api/forge/nightly/{nightly}"),
            r,
        ),
        example(get, n_detail, "/git/api/forge/nightly/999", r),
        example(
            post,
            n_fail,
            format!("/git/nightly/{nightly}/fail/{nightly_queued}"),
            w,
        ),
        example(
            post,
            n_requeue,
            format!("/git/nightly/{nightly}/requeue/{nightly_failed}"),
            w,
        ),
        example(
            post,
            n_rerun,
            format!("/git/nightly/{nightly}/rerun/{nightly_queued}"),
            w,
        ),
        example(
            post,
            n_recover,
            format!("/git/nightly/{nightly}/recover"),
            w,
        ),
        example(
            get,
            branch_logs,
            format!("/git/api/forge/branch/{branch}/logs?lane_run_id={with_run}"),
            r,
        ),
    ];
    let mut answers = Vec::new();
    for ex in &examples {
        let method = ex.method.as_str().to_uppercase();
        let (status, body) = match &ex.body {
            Some(b) => app.send_json(&method, &ex.uri, ex.auth.as_deref(), b).await,
            None => app.send(&method, &ex.uri, ex.auth.as_deref()).await,
        };
        answers.push(serde_json::json!({
            "method": ex.method.as_str(),
            "path": ex.path,
            "uri": ex.uri,
            "status": status.as_u16(),
            "body": body,
        }));
    }
    // Merge and close, on a real repository: done, then refused.
    for action in ["merge", "close"] {
        let site = crate::merge::Site::new().await;
        site.finish_ci(pika_news_core::db::LaneStatus::Passed).await;
        for path in [
            "/git/api/forge/branch/{branch_id}/ACTION",
            "/git/branch/{branch_id}/ACTION",
        ] {
            let path: &'static str = path.replace("ACTION", action).leak();
            let uri = path.replace("{branch_id}", &site.branch.to_string());
            let (status, body) = site
                .post(pika_news_core::forge::MergePolicy::Green, &uri, &site.write)
                .await;
            answers.push(serde_json::json!({
                "method": "post",
                "path": path,
                "uri": uri,
                "status": status.as_u16(),
                "body": body,
            }));
            // The next path needs an open branch again: push it anew.
            site.f.push("feature/x", &[("src/again", path)]);
            site.sync().await;
            site.finish_ci(pika_news_core::db::LaneStatus::Passed).await;
        }
    }
    // Every JSON route has a successful answer among the examples, and every
    // error status the document lists for some route comes up at least once.
    for route in ROUTES.iter().filter(|r| r.answer.is_json()) {
        assert!(
            answers
                .iter()
                .any(|a| a["path"] == route.path && a["status"] == 200),
            "no 200 example for {} {}",
            route.method.as_str(),
            route.path
        );
    }
    for status in [400, 401, 403, 404, 409, 500] {
        assert!(
            answers.iter().any(|a| a["status"] == status),
            "no example answers {status}"
        );
    }

    let (_, doc) = app.send("GET", "/git/api/openapi.json", None).await;
    let dir = tempfile::tempdir().unwrap();
    let dir = Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();
    std::fs::write(dir.join("openapi.json"), doc.to_string()).unwrap();
    std::fs::write(
        dir.join("examples.json"),
        serde_json::Value::from(answers).to_string(),
    )
    .unwrap();
    check_with_python(&dir);
}

/// Runs `openapi_check.py` (openapi-spec-validator and its JSON Schema
/// validator); a missing Python or package fails with the fix.
fn check_with_python(dir: &Utf8Path) {
    const SETUP: &str =
        "run `bash scripts/test-setup.sh` (it installs openapi-spec-validator with pip)";
    let script =
        Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/openapi_check.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(dir.join("openapi.json"))
        .arg(dir.join("examples.json"))
        .output()
        .unwrap_or_else(|e| panic!("python3 could not be started ({e}): {SETUP}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    match out.status.code() {
        Some(0) => {}
        Some(3) => panic!("{}: {SETUP}", stderr.trim()),
        _ => panic!("the OpenAPI check failed:\n{stdout}\n{stderr}"),
    }
}

//! A failed run explains itself on the pages: pikaci's own reason and the
//! end of the failing output (failed lanes first), the branch's run
//! numbers and attempts, and a pikaci lane's job graph.

use axum::body::Body;
use pika_news_core::db::{BranchId, LaneRunId, LaneStatus, SuiteId};
use pika_news_web::router;
use pikaci_core::{FailureKind, LogFile, RunStatus};

use crate::page_env::{PageEnv, TestJob};
use crate::support::oneshot;

async fn page(env: &PageEnv, uri: &str, cookie_token: &str) -> String {
    let cookie = format!("pika_news_token={cookie_token}");
    let (status, _, body) = oneshot(
        router(env.state()),
        "GET",
        uri,
        &[("cookie", cookie.as_str())],
        Body::empty(),
    )
    .await;
    let body = String::from_utf8_lossy(&body).into_owned();
    assert!(status.is_success(), "{uri}: {status} {body}");
    body
}

/// The element of `html` that starts with `start`, up to its first `end`.
fn part<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let at = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start}: {html}"));
    let len = html[at..].find(end).expect("an end");
    &html[at..at + len]
}

/// A failed suite on branch `feat`: lane `a` passed; lane `b`, a pikaci
/// lane whose job `test` failed with exit 101 after a long, coloured log;
/// lane `c`, a plain argv lane that failed with its own log.
struct Failed {
    branch: BranchId,
    suite: SuiteId,
    passed: LaneRunId,
    pikaci: LaneRunId,
    argv: LaneRunId,
}

async fn failed_suite(env: &PageEnv) -> Failed {
    let branch = env.branch("feat").await;
    let suite = env.suite(branch).await;
    let passed = env.lane(suite, "a", "lane a").await;
    let pikaci = env.lane(suite, "b", "lane b").await;
    let argv = env.lane(suite, "c", "lane c").await;
    for l in [passed, pikaci, argv] {
        env.set(l, LaneStatus::Running, None, None).await;
    }
    let mut record = env
        .run(
            pikaci,
            "20260324T160000Z-0000000b",
            env.now(),
            &[
                TestJob {
                    id: "build",
                    status: RunStatus::Passed,
                    started: 0,
                    finished: Some(5),
                    description: "cargo build",
                },
                TestJob {
                    id: "test",
                    status: RunStatus::Failed,
                    started: 5,
                    finished: Some(50),
                    description: "cargo test",
                },
            ],
        )
        .await;
    let test = record.job_mut(&"test".parse().unwrap()).unwrap();
    test.exit_code = Some(101);
    test.failure_kind = Some(FailureKind::TestFailure);
    record.planned_jobs = vec!["build".parse().unwrap(), "test".parse().unwrap()];
    record.job_needs = [("test".parse().unwrap(), vec!["build".parse().unwrap()])].into();
    env.store.persist_run_record(&record).unwrap();
    // More than the excerpt reads: the page must read the end only.
    let mut log = "compiling line that says error early on\n".to_owned();
    log.push_str(&"noise\n".repeat(40_000));
    log.push_str(
        "running 2 tests\ntest a ... ok\ntest b ... \x1b[31mFAILED\x1b[0m\n\
         thread 'b' panicked at src/lib.rs:9:5: <script>window.__xss=1</script>\n\
         note: run with `RUST_BACKTRACE=1`\n",
    );
    env.write_log(&record, "test", LogFile::Guest, log.as_bytes());
    env.write_lane_log(argv, b"make: entering\n./check.sh: line 3: missing: command not found\nmake: *** [Makefile:2: check] Error 127\n[pika-news] lane failed: the lane exited with 2\n");
    env.advance(60);
    env.set(passed, LaneStatus::Passed, None, Some("1 of 1 jobs passed"))
        .await;
    env.set(
        pikaci,
        LaneStatus::Failed,
        Some(FailureKind::TestFailure),
        Some("a pikaci job failed"),
    )
    .await;
    env.set(
        argv,
        LaneStatus::Failed,
        Some(FailureKind::TestFailure),
        Some("the lane exited with 2"),
    )
    .await;
    env.refresh(suite).await;
    Failed {
        branch,
        suite,
        passed,
        pikaci,
        argv,
    }
}

#[tokio::test]
async fn a_failed_lane_says_why_with_the_end_of_its_output_failed_lanes_first() {
    let env = PageEnv::new();
    let f = failed_suite(&env).await;
    let html = page(&env, &format!("/news/branch/{}/ci", f.branch), &env.read).await;
    let at = |lane: LaneRunId| {
        html.find(&format!("<tr data-lane=\"{lane}\""))
            .unwrap_or_else(|| panic!("no row {lane}: {html}"))
    };
    assert!(
        at(f.pikaci) < at(f.argv) && at(f.argv) < at(f.passed),
        "failed lanes first, in their order: {html}"
    );
    let pikaci = part(&html, &format!("<tr data-lane=\"{}\"", f.pikaci), "</tr>");
    assert!(
        pikaci.contains("<div class=\"why\">failed: test (exit 101)</div>"),
        "pikaci's own reason, not the generic one: {pikaci}"
    );
    assert!(!pikaci.contains("a pikaci job failed"), "{pikaci}");
    let excerpt = part(pikaci, "<pre class=\"excerpt\">", "</pre>");
    assert_eq!(
        excerpt,
        "<pre class=\"excerpt\">test b ... FAILED\n\
         thread 'b' panicked at src/lib.rs:9:5: &lt;script&gt;window.__xss=1&lt;/script&gt;\n",
        "the last error-looking lines, stripped and escaped, from the end only"
    );
    assert!(
        pikaci.contains(&format!(
            "href=\"/news/branch/{}/ci/lane/{}?job=test\">from test output</a>",
            f.branch, f.pikaci
        )),
        "{pikaci}"
    );
    let argv = part(&html, &format!("<tr data-lane=\"{}\"", f.argv), "</tr>");
    assert!(
        argv.contains("<div class=\"why\">the lane exited with 2</div>"),
        "{argv}"
    );
    assert_eq!(
        part(argv, "<pre class=\"excerpt\">", "</pre>"),
        "<pre class=\"excerpt\">./check.sh: line 3: missing: command not found\n\
         make: *** [Makefile:2: check] Error 127\n",
        "an argv lane's own log, without the service's own line"
    );
    assert!(argv.contains("?kind=lane\">from lane output</a>"), "{argv}");
    let passed = part(&html, &format!("<tr data-lane=\"{}\"", f.passed), "</tr>");
    assert!(!passed.contains("excerpt"), "{passed}");

    // So does the lane's own page, in its header.
    let lane_page = page(
        &env,
        &format!("/news/branch/{}/ci/lane/{}", f.branch, f.pikaci),
        &env.read,
    )
    .await;
    let head = part(&lane_page, "<div id=\"lane-head\"", "</div>");
    assert!(
        head.contains("<p class=\"sub\">failed: test (exit 101)</p>")
            && !head.contains("a pikaci job failed"),
        "{head}"
    );

    // The overview says the same for the branch's first failed lane.
    let overview = page(&env, "/news/ci", &env.read).await;
    let row = part(
        &overview,
        &format!("<tr data-branch=\"{}\"", f.branch),
        "</tr>",
    );
    assert!(
        row.contains(&format!(
            "href=\"/news/branch/{}/ci/lane/{}\">lane b</a>",
            f.branch, f.pikaci
        )) && row.contains("failed: test (exit 101)")
            && row.contains("thread 'b' panicked at src/lib.rs:9:5: &lt;script&gt;"),
        "{row}"
    );
    assert!(!overview.contains("<script>window"), "{overview}");
}

#[tokio::test]
async fn runs_are_numbered_per_branch_and_reruns_are_attempts_of_them() {
    let env = PageEnv::new();
    let feat = env.branch("feat").await;
    let first = env.suite(feat).await;
    let l = env.lane(first, "tests", "tests").await;
    env.set(l, LaneStatus::Passed, None, None).await;
    env.refresh(first).await;
    // Another branch's suite between them: numbers count this branch's only.
    let other = env
        .db
        .upsert_branch("other", &"d".repeat(40))
        .await
        .unwrap();
    let o = env.suite(other).await;
    env.refresh(o).await;
    let second = env.suite(feat).await;
    let l = env.lane(second, "tests", "tests").await;
    env.set(
        l,
        LaneStatus::Failed,
        Some(FailureKind::TestFailure),
        Some("boom"),
    )
    .await;
    env.refresh(second).await;
    let uri = format!("/news/branch/{feat}/ci");
    let html = page(&env, &uri, &env.write).await;
    assert!(html.contains("title=\"Latest run #2 failed"), "{html}");
    assert!(
        html.contains(&format!(
            "<h2 id=\"suite-{second}\" data-run=\"2\">Run #2 <span"
        )),
        "{html}"
    );
    assert!(
        html.contains("Re-run failed lanes"),
        "a failed suite offers its button: {html}"
    );
    let history = part(&html, "<table class=\"grid\" id=\"history\">", "</table>");
    assert!(
        history.contains(&format!(
            "<a href=\"#suite-{first}\" title=\"suite {first}\">#1</a>"
        )),
        "{history}"
    );

    // A suite rerun is attempt 2 of the same run, and its rerun lane says so.
    let rerun = env.db.rerun_suite(second, true).await.unwrap();
    env.set(
        rerun[0],
        LaneStatus::Failed,
        Some(FailureKind::TestFailure),
        Some("boom again"),
    )
    .await;
    env.refresh(second).await;
    let html = page(&env, &uri, &env.write).await;
    assert!(
        html.contains("Run #2 <span class=\"attempt\">· attempt 2 of #2</span>"),
        "{html}"
    );
    let row = part(&html, &format!("<tr data-lane=\"{}\"", rerun[0]), "</tr>");
    assert!(row.contains("attempt 2"), "{row}");
    assert!(html.contains("Re-run failed lanes"), "{html}");
    let overview = page(&env, "/news/ci", &env.read).await;
    let row = part(&overview, &format!("<tr data-branch=\"{feat}\""), "</tr>");
    assert!(row.contains("data-run=\"2\">#2</a>"), "{row}");
    let row = part(&overview, &format!("<tr data-branch=\"{other}\""), "</tr>");
    assert!(row.contains("data-run=\"1\">#1</a>"), "{row}");
}

#[tokio::test]
async fn a_pikaci_lane_page_draws_its_job_graph_in_needs_order() {
    let env = PageEnv::new();
    let branch = env.branch("feat").await;
    let suite = env.suite(branch).await;
    let lane = env.lane(suite, "ci", "ci").await;
    env.set(lane, LaneStatus::Running, None, None).await;
    let job = |id, status, finished| TestJob {
        id,
        status,
        started: 1,
        finished,
        description: "",
    };
    let mut record = env
        .run(
            lane,
            "20260324T160000Z-000000cc",
            env.now(),
            &[
                job("build", RunStatus::Passed, Some(5)),
                job("lint", RunStatus::Failed, Some(3)),
                job("test", RunStatus::Skipped, Some(5)),
                job("docs", RunStatus::Running, None),
            ],
        )
        .await;
    record.planned_jobs = ["package", "test", "lint", "build", "docs"]
        .iter()
        .map(|j| j.parse().unwrap())
        .collect();
    record.job_needs = [
        ("test", vec!["build", "lint"]),
        ("package", vec!["test"]),
        ("docs", vec!["build"]),
    ]
    .into_iter()
    .map(|(j, n)| {
        (
            j.parse().unwrap(),
            n.into_iter().map(|n| n.parse().unwrap()).collect(),
        )
    })
    .collect();
    record.job_mut(&"test".parse().unwrap()).unwrap().message =
        Some("skipped: it needs lint, which did not pass".into());
    env.store.persist_run_record(&record).unwrap();

    let href = format!("/news/branch/{branch}/ci/lane/{lane}");
    let html = page(&env, &href, &env.read).await;
    let graph = part(&html, "<section id=\"graph\"", "</section>");
    let order: Vec<&str> = graph
        .split("data-job=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(
        order,
        ["lint", "build", "test", "docs", "package"],
        "by layer, the planned order within one: {graph}"
    );
    let job_box = |id: &str| part(graph, &format!("<div id=\"job-{id}\""), "</div></div>");
    let test = part(graph, "<div id=\"job-test\"", "<div id=\"job-docs\"");
    assert!(
        test.contains("needs: <a href=\"#job-build\">build</a>, <a href=\"#job-lint\">lint</a>")
            && test.contains("<div class=\"skip\">skipped: lint failed</div>"),
        "{test}"
    );
    assert!(
        job_box("build").contains(&format!("<a href=\"{href}?job=build\">build</a>")),
        "{graph}"
    );
    let package = &graph[graph.find("<div id=\"job-package\"").unwrap()..];
    assert!(
        package.contains("class=\"gjob st-queued\"") && package.contains("waiting"),
        "a planned job shows while the lane runs: {package}"
    );
    assert!(!package.contains("?job=package"), "{package}");
    // Layers: three columns.
    assert_eq!(graph.matches("class=\"layer\"").count(), 3, "{graph}");
}

#[tokio::test]
async fn the_branch_page_gives_the_heads_subject_author_and_link() {
    let env = PageEnv::new();
    let branch = env.branch("feat").await;
    let sha = "c0ffee".repeat(7)[..40].to_owned();
    env.db
        .set_branch_meta(
            branch,
            pika_news_core::db::BranchMeta {
                title: Some("Fix the <flaky> test".into()),
                author: Some("Ada Lovelace".into()),
                merge_base: None,
            },
        )
        .await
        .unwrap();
    let suite = env.suite(branch).await;
    env.refresh(suite).await;
    let uri = format!("/news/branch/{branch}/ci");
    let html = page(&env, &uri, &env.read).await;
    let context = part(&html, "<p class=\"commit\" id=\"commit\">", "</p>");
    assert_eq!(
        context,
        "<p class=\"commit\" id=\"commit\"><span class=\"subject\">Fix the &lt;flaky&gt; test</span>\
         <span class=\"muted\">by <span class=\"author\">Ada Lovelace</span></span>"
    );
    // Without a commit_url the head links to its CI status here.
    let status_link =
        format!("<a class=\"commit-link\" href=\"/news/api/forge/commit/{sha}/status\">");
    assert!(html.contains(&status_link), "{html}");
    let overview = page(&env, "/news/ci", &env.read).await;
    assert!(overview.contains(&status_link), "{overview}");

    // With one, to the page it names.
    let url = pika_news_core::config::CommitUrl::try_from(
        "https://example.org/pika/commit/{sha}".to_owned(),
    )
    .unwrap();
    let state = env.state().with_commit_url(Some(url));
    let (_, _, body) = oneshot(
        router(state),
        "GET",
        &uri,
        &[("cookie", format!("pika_news_token={}", env.read).as_str())],
        Body::empty(),
    )
    .await;
    let html = String::from_utf8_lossy(&body);
    assert!(
        html.contains(&format!(
            "<a class=\"commit-link\" href=\"https://example.org/pika/commit/{sha}\"><code title=\"{sha}\">c0ffeec0ff</code></a>"
        )),
        "{html}"
    );
    assert!(!html.contains("/status\""), "{html}");
}

/// The page's text of `selector`, white space made single spaces.
fn text_of(b: &mut crate::browser::Browser, selector: &str) -> String {
    let sel = serde_json::to_string(selector).unwrap();
    b.eval(&format!(
        "document.querySelector({sel}).innerText.replace(/\\s+/g, ' ').trim()"
    ))
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_the_branch_page_shows_a_red_lane_first_beside_green_and_running_ones() {
    use serde_json::json;

    let env = PageEnv::new();
    let f = failed_suite(&env).await;
    env.db
        .set_branch_meta(
            f.branch,
            pika_news_core::db::BranchMeta {
                title: Some("Make the <tests> pass".into()),
                author: Some("Grace Hopper".into()),
                merge_base: None,
            },
        )
        .await
        .unwrap();
    // A lane still running beside the green and the red ones.
    let running = env.lane(f.suite, "d", "lane d").await;
    env.set(running, LaneStatus::Running, None, None).await;
    env.refresh(f.suite).await;
    let (base, server) = env.serve().await;
    let mut b = crate::browser::Browser::launch();
    let page = format!("/news/branch/{}/ci", f.branch);
    b.sign_in(&base, &env.read, &page);

    // Red first, in their order; then the rest in theirs.
    assert_eq!(
        b.eval(
            "[...document.querySelectorAll('#lanes tbody tr')].map(r => r.dataset.lane).join(' ')"
        ),
        json!(format!("{} {} {} {running}", f.pikaci, f.argv, f.passed))
    );
    let red = format!("tr[data-lane=\"{}\"]", f.pikaci);
    assert_eq!(
        text_of(&mut b, &format!("{red} .failure .why")),
        "failed: test (exit 101)"
    );
    let excerpt = text_of(&mut b, &format!("{red} .excerpt"));
    assert_eq!(
        excerpt,
        "test b ... FAILED thread 'b' panicked at src/lib.rs:9:5: <script>window.__xss=1</script>",
        "the excerpt shows as text"
    );
    assert_eq!(b.eval("typeof window.__xss"), json!("undefined"));
    assert_eq!(
        b.eval(&format!(
            "getComputedStyle(document.querySelector('{red} .excerpt')).whiteSpace"
        )),
        json!("pre-wrap"),
        "the excerpt keeps its lines"
    );
    let green = format!("tr[data-lane=\"{}\"]", f.passed);
    assert!(text_of(&mut b, &green).starts_with("passed"));
    assert_eq!(
        b.eval(&format!(
            "document.querySelectorAll('{green} .excerpt').length"
        )),
        json!(0)
    );
    let run = format!("tr[data-lane=\"{running}\"]");
    assert!(
        text_of(&mut b, &run).starts_with("running"),
        "{}",
        text_of(&mut b, &run)
    );
    assert_eq!(
        text_of(&mut b, "#commit"),
        "Make the <tests> pass by Grace Hopper"
    );
    b.screenshot("branch-why.png", true);

    // The excerpt's link opens the failing job's log, under its job graph.
    b.click(&format!("{red} a.excerpt-from"));
    b.wait_for("location.search === '?job=test' && document.readyState === 'complete'");
    assert_eq!(
        b.eval("[...document.querySelectorAll('#graph .gjob')].map(e => e.dataset.job).join(' ')"),
        json!("build test")
    );
    assert_eq!(text_of(&mut b, "#job-test .needs"), "needs: build");
    assert_eq!(
        b.eval(
            "document.querySelector('#job-test').getBoundingClientRect().left > \
             document.querySelector('#job-build').getBoundingClientRect().right"
        ),
        json!(true),
        "a job stands right of the job it needs"
    );
    b.screenshot("lane-graph.png", false);
    b.assert_no_script_errors();
    drop(b);
    server.abort();
}

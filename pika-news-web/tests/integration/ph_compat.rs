//! Upstream's `ph` against pika-news: every call it makes, decoded into its
//! own types made strict (`ph_client`), for resolve, detail, branch logs,
//! every lane action, recover, nightly runs, wake and who-am-I.

use axum::http::StatusCode;
use pika_news_core::db::{LaneStatus, NewLane, Role, SuiteStatus};
use pikaci_core::FailureKind;

use crate::ph_client::{
    BranchState, CiLaneExecutionReason, CiLaneFailureKind, CiLaneStatus, ForgeCiStatus, Ph,
    TutorialStatus,
};
use crate::support::{RUN, TestApp};

/// Upstream's words for a CI status: what `ci_status` and a run's status use.
fn upstream_word(s: ForgeCiStatus) -> bool {
    matches!(
        s,
        ForgeCiStatus::Queued
            | ForgeCiStatus::Running
            | ForgeCiStatus::Success
            | ForgeCiStatus::Failed
    )
}

#[tokio::test]
async fn ph_resolves_reads_details_and_logs() {
    let app = TestApp::new();
    let (branch, with_run, without) = app.branch().await;
    app.write_lane_log(
        with_run,
        format!(
            "[pika-news] running: pikaci run pre-merge --output jsonl\n[pikaci] run started: {RUN} · pre-merge\n"
        )
        .as_bytes(),
    );
    let ph = Ph::new(app.app(), &app.read);

    let r = ph.resolve_branch("feature/x").await.unwrap();
    assert_eq!(
        (
            r.branch_id,
            r.repo.as_str(),
            r.branch_name.as_str(),
            r.branch_state
        ),
        (
            branch.get(),
            "sledtools/pika",
            "feature/x",
            BranchState::Open
        )
    );
    assert_eq!(
        ph.resolve_branch("nope").await.unwrap_err().status,
        StatusCode::NOT_FOUND
    );

    let d = ph.branch_detail(branch.get()).await.unwrap();
    let b = &d.branch;
    assert_eq!(
        (b.branch_id, b.branch_name.as_str()),
        (branch.get(), "feature/x")
    );
    assert_eq!(b.head_sha, "a".repeat(40));
    assert_eq!(b.target_branch, "main");
    assert_eq!(b.tutorial_status, TutorialStatus::Pending);
    assert_eq!(
        b.ci_status,
        ForgeCiStatus::Running,
        "one failed, one still queued"
    );
    assert_eq!(
        (b.merge_commit_sha.as_deref(), b.error_message.as_deref()),
        (None, None)
    );
    assert_eq!(d.ci_runs.len(), 1);
    let run = &d.ci_runs[0];
    assert!(upstream_word(run.status));
    assert_eq!(
        (run.source_head_sha.as_str(), run.lane_count),
        ("a".repeat(40).as_str(), 2)
    );
    let (pre, lint) = (&run.lanes[0], &run.lanes[1]);
    assert_eq!(
        (pre.id, pre.lane_id.as_str(), pre.title.as_str()),
        (with_run.get(), "pre-merge", "pre-merge checks")
    );
    assert_eq!(pre.status, CiLaneStatus::Failed);
    assert_eq!(pre.failure_kind, Some(CiLaneFailureKind::TestFailure));
    assert_eq!(pre.pikaci_run_id.as_deref(), Some(RUN));
    assert!(!pre.entrypoint.is_empty());
    assert_eq!(pre.log_text, None, "log text comes with branch logs");
    assert_eq!(
        (lint.status, lint.execution_reason),
        (CiLaneStatus::Queued, CiLaneExecutionReason::Queued)
    );
    assert!(
        lint.timing_summary
            .as_deref()
            .is_some_and(|t| t.starts_with("queued "))
    );

    // By default upstream's lane: the newest failed one; run_id is its suite.
    let logs = ph.branch_logs(branch.get(), None, None).await.unwrap();
    assert_eq!(
        (logs.branch_id, logs.branch_name.as_str()),
        (branch.get(), "feature/x")
    );
    assert_eq!(logs.run_id, run.id);
    assert_eq!(logs.lane.id, with_run.get());
    let text = logs.lane.log_text.as_deref().unwrap();
    assert!(
        text.contains(&format!("[pikaci] run started: {RUN} · pre-merge")),
        "{text}"
    );
    assert_eq!(logs.pikaci_run.as_ref().unwrap()["run_id"], RUN);
    assert!(logs.pikaci_log_metadata.is_some() && logs.pikaci_prepared_outputs.is_none());
    let logs = ph
        .branch_logs(branch.get(), Some("lint"), None)
        .await
        .unwrap();
    assert_eq!(logs.lane.id, without.get());
    assert!(logs.pikaci_run.is_none() && logs.pikaci_log_metadata.is_none());
    assert_eq!(logs.lane.log_text, None, "it has not run");
    let logs = ph
        .branch_logs(branch.get(), None, Some(with_run.get()))
        .await
        .unwrap();
    assert_eq!(logs.lane.lane_id, "pre-merge");
    assert_eq!(
        ph.branch_logs(branch.get(), None, Some(9999))
            .await
            .unwrap_err()
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn ph_acts_on_a_branchs_lanes_by_upstreams_rules() {
    let app = TestApp::new();
    let (branch, with_run, without) = app.branch().await;
    let (_, nightly_lane, _) = app.nightly().await;
    let (b, with_run, without) = (branch.get(), with_run.get(), without.get());
    let ph = Ph::new(app.app(), &app.write);

    let m = ph.fail_branch_ci_lane(b, without).await.unwrap();
    assert_eq!(
        (
            m.status.as_str(),
            m.branch_id,
            m.nightly_run_id,
            m.lane_run_id,
            m.lane_status
        ),
        ("ok", Some(b), None, without, CiLaneStatus::Failed)
    );
    // Fail works only from queued or running.
    let e = ph.fail_branch_ci_lane(b, without).await.unwrap_err();
    assert_eq!(e.status, StatusCode::CONFLICT, "{e:?}");
    assert!(
        e.error
            .contains("only a queued or running lane can be failed"),
        "{e:?}"
    );
    // Requeue works from failed (and queued or running).
    let m = ph.requeue_branch_ci_lane(b, without).await.unwrap();
    assert_eq!(m.lane_status, CiLaneStatus::Queued);
    assert_eq!(
        ph.requeue_branch_ci_lane(b, without)
            .await
            .unwrap()
            .lane_status,
        CiLaneStatus::Queued
    );
    let d = ph.branch_detail(b).await.unwrap();
    let lane = d.ci_runs[0].lanes.iter().find(|l| l.id == without).unwrap();
    assert_eq!(lane.retry_count, 2);
    // ... but not from passed.
    app.db
        .set_lane_status(
            pika_news_core::db::LaneRunId::new(with_run).unwrap(),
            LaneStatus::Passed,
            None,
            None,
        )
        .await
        .unwrap();
    for e in [
        ph.requeue_branch_ci_lane(b, with_run).await.unwrap_err(),
        ph.fail_branch_ci_lane(b, with_run).await.unwrap_err(),
    ] {
        assert_eq!(e.status, StatusCode::CONFLICT, "{e:?}");
    }
    // A lane that is not on that branch is not found.
    for (branch, lane) in [(b, nightly_lane.get()), (b, 999), (999, with_run)] {
        assert_eq!(
            ph.fail_branch_ci_lane(branch, lane)
                .await
                .unwrap_err()
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            ph.requeue_branch_ci_lane(branch, lane)
                .await
                .unwrap_err()
                .status,
            StatusCode::NOT_FOUND
        );
    }
    // Upstream's rerun (not a `ph` command): a finished lane, once.
    let rerun = ph.rerun_branch_ci_lane(b, with_run).await.unwrap();
    assert_eq!(rerun["status"], "ok");
    let again = rerun["lane_run_id"].as_i64().unwrap();
    assert_eq!(
        ph.rerun_branch_ci_lane(b, again).await.unwrap_err().status,
        StatusCode::CONFLICT
    );

    // Recover: every queued, running or failed lane of the suite.
    let run = d.ci_runs[0].id;
    ph.fail_branch_ci_lane(b, without).await.unwrap();
    let r = ph.recover_branch_ci_run(b, run).await.unwrap();
    assert_eq!(
        (r.status.as_str(), r.branch_id, r.run_id, r.nightly_run_id),
        ("ok", Some(b), Some(run), None)
    );
    assert_eq!(
        r.recovered_lane_count, 2,
        "the failed lane and the queued rerun"
    );
    let d = ph.branch_detail(b).await.unwrap();
    assert!(
        d.ci_runs[0]
            .lanes
            .iter()
            .filter(|l| l.id != with_run)
            .all(|l| l.status == CiLaneStatus::Queued)
    );
    assert_eq!(
        ph.recover_branch_ci_run(b, 999).await.unwrap_err().status,
        StatusCode::NOT_FOUND
    );

    let w = ph.wake_ci().await.unwrap();
    assert_eq!(w.status, "ok");
    assert!(!w.message.is_empty());

    // A read token may look, not act.
    let reader = Ph::new(app.app(), &app.read);
    for e in [
        reader.fail_branch_ci_lane(b, without).await.unwrap_err(),
        reader.recover_branch_ci_run(b, run).await.unwrap_err(),
        reader.wake_ci().await.unwrap_err(),
    ] {
        assert_eq!(e.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn ph_reads_and_acts_on_nightly_runs() {
    let app = TestApp::new();
    let (branch, with_run, _) = app.branch().await;
    let (nightly, failed, queued) = app.nightly().await;
    let (n, failed, queued) = (nightly.get(), failed.get(), queued.get());
    let ph = Ph::new(app.app(), &app.write);

    let d = ph.nightly_detail(n).await.unwrap();
    assert_eq!(d.nightly_run_id, n);
    assert_eq!(
        (d.repo.as_str(), d.source_ref.as_str()),
        ("sledtools/pika", "refs/heads/main")
    );
    assert_eq!(d.scheduled_for, "2026-03-24T08:00:00Z");
    assert_eq!(d.source_head_sha, "c".repeat(40));
    assert_eq!(d.status, ForgeCiStatus::Running);
    assert_eq!(
        d.lanes
            .iter()
            .map(|l| (l.lane_id.as_str(), l.entrypoint.as_str()))
            .collect::<Vec<_>>(),
        [
            ("nightly_a", "just nightly_a"),
            ("nightly_b", "just nightly_b")
        ]
    );

    let m = ph.fail_nightly_lane(n, queued).await.unwrap();
    assert_eq!(
        (m.branch_id, m.nightly_run_id, m.lane_run_id, m.lane_status),
        (None, Some(n), queued, CiLaneStatus::Failed)
    );
    assert_eq!(
        ph.nightly_detail(n).await.unwrap().status,
        ForgeCiStatus::Failed
    );
    assert_eq!(
        ph.fail_nightly_lane(n, queued).await.unwrap_err().status,
        StatusCode::CONFLICT
    );
    let m = ph.requeue_nightly_lane(n, failed).await.unwrap();
    assert_eq!(m.lane_status, CiLaneStatus::Queued);
    // A branch's lane is not the nightly run's.
    assert_eq!(
        ph.fail_nightly_lane(n, with_run.get())
            .await
            .unwrap_err()
            .status,
        StatusCode::NOT_FOUND
    );
    let r = ph.recover_nightly_run(n).await.unwrap();
    assert_eq!(
        (r.branch_id, r.run_id, r.nightly_run_id),
        (None, None, Some(n))
    );
    assert_eq!(r.recovered_lane_count, 2);
    assert_eq!(
        ph.nightly_detail(n).await.unwrap().status,
        ForgeCiStatus::Queued
    );
    assert_eq!(
        ph.nightly_detail(999).await.unwrap_err().status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        ph.recover_nightly_run(999).await.unwrap_err().status,
        StatusCode::NOT_FOUND
    );

    // The nightly run is not one of the default branch's own CI runs.
    let main = ph.resolve_branch("main").await.unwrap();
    let d = ph.branch_detail(main.branch_id).await.unwrap();
    assert!(d.ci_runs.is_empty(), "{d:?}");
    assert_eq!(d.branch.ci_status, ForgeCiStatus::Queued);
    // Nor can it be recovered or acted on as one.
    let suite = app
        .db
        .nightly(nightly)
        .await
        .unwrap()
        .unwrap()
        .suite_id
        .get();
    assert_eq!(
        ph.recover_branch_ci_run(main.branch_id, suite)
            .await
            .unwrap_err()
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        ph.fail_branch_ci_lane(main.branch_id, failed)
            .await
            .unwrap_err()
            .status,
        StatusCode::NOT_FOUND
    );
    let _ = branch;
}

#[tokio::test]
async fn ph_sees_statuses_in_upstreams_words() {
    let app = TestApp::new();
    let ph = Ph::new(app.app(), &app.read);
    let head = "d".repeat(40);

    // A head without a suite yet: queued.
    let fresh = app.db.upsert_branch("fresh", &head).await.unwrap();
    let d = ph.branch_detail(fresh.get()).await.unwrap();
    assert_eq!(
        (d.branch.ci_status, d.ci_runs.len()),
        (ForgeCiStatus::Queued, 0)
    );
    assert_eq!(d.branch.head_sha, head);

    // A manifest error: failed, and the error in error_message.
    let bad = app.db.upsert_branch("bad", &head).await.unwrap();
    let msg = "ci/forge-lanes.toml:3: lane `x`: needs `command`, `pikaci_target` or `staged_linux_target`";
    app.db
        .insert_suite(bad, &head, SuiteStatus::Failed, Some(msg))
        .await
        .unwrap();
    let d = ph.branch_detail(bad.get()).await.unwrap();
    assert_eq!(d.branch.ci_status, ForgeCiStatus::Failed);
    assert_eq!(d.branch.error_message.as_deref(), Some(msg));
    assert_eq!(
        (d.ci_runs[0].status, d.ci_runs[0].lane_count),
        (ForgeCiStatus::Failed, 0)
    );

    // A cancelled lane: its status says so, its failure kind is null, and the
    // suite did not pass.
    let gone = app.db.upsert_branch("gone", &head).await.unwrap();
    let suite = app
        .db
        .insert_suite(gone, &head, SuiteStatus::Running, None)
        .await
        .unwrap();
    let lane = |name: &str| NewLane {
        suite_id: suite,
        lane: name.into(),
        title: name.into(),
        concurrency_group: None,
        command: Some(r#"{"pikaci_target":"ci"}"#.into()),
        timeout_secs: None,
    };
    let a = app.db.insert_lane(lane("a")).await.unwrap();
    let c = app.db.insert_lane(lane("c")).await.unwrap();
    app.db
        .set_lane_status(a, LaneStatus::Passed, None, Some("passed"))
        .await
        .unwrap();
    app.db
        .set_lane_status(
            c,
            LaneStatus::Cancelled,
            Some(FailureKind::Cancelled),
            Some("cancelled"),
        )
        .await
        .unwrap();
    app.db.refresh_suite_status(suite).await.unwrap();
    let d = ph.branch_detail(gone.get()).await.unwrap();
    let lanes = &d.ci_runs[0].lanes;
    assert_eq!(
        (lanes[0].status, lanes[0].failure_kind),
        (CiLaneStatus::Success, None)
    );
    assert_eq!(
        (lanes[1].status, lanes[1].failure_kind),
        (CiLaneStatus::Cancelled, None)
    );
    assert_eq!(lanes[1].pikaci_target_id.as_deref(), Some("ci"));
    assert_eq!(lanes[1].entrypoint, "pikaci run ci");
    assert_eq!(d.branch.ci_status, ForgeCiStatus::Failed);
    let logs = ph.branch_logs(gone.get(), Some("c"), None).await.unwrap();
    assert_eq!(
        (logs.lane.status, logs.lane.failure_kind),
        (CiLaneStatus::Cancelled, None)
    );
    // Every lane passed: success, with both ends of the run's time.
    app.db
        .set_lane_status(c, LaneStatus::Passed, None, None)
        .await
        .unwrap();
    let d = ph.branch_detail(gone.get()).await.unwrap();
    assert_eq!(d.branch.ci_status, ForgeCiStatus::Success);
    assert!(d.ci_runs[0].finished_at.is_some());
    for s in [d.branch.ci_status, d.ci_runs[0].status] {
        assert!(upstream_word(s), "{s:?}");
    }
}

#[tokio::test]
async fn branch_logs_after_gc_give_null_run_fields() {
    let app = TestApp::new();
    let (branch, with_run, _) = app.branch().await;
    let ph = Ph::new(app.app(), &app.read);
    let run_dir = app
        .store
        .root()
        .run_json(&RUN.parse().unwrap())
        .parent()
        .unwrap()
        .to_owned();
    std::fs::remove_dir_all(run_dir).unwrap();
    let logs = ph
        .branch_logs(branch.get(), None, Some(with_run.get()))
        .await
        .unwrap();
    assert_eq!(
        logs.lane.pikaci_run_id.as_deref(),
        Some(RUN),
        "the lane still names it"
    );
    assert!(logs.pikaci_run.is_none() && logs.pikaci_log_metadata.is_none());
    // The run route itself still says it is gone.
    let (status, _) = app.get(&format!("/news/api/forge/pikaci/run/{RUN}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A recorded id that cannot name a run reads as gone too.
    app.db
        .set_lane_pikaci_run(with_run, "../not-a-run")
        .await
        .unwrap();
    let logs = ph
        .branch_logs(branch.get(), None, Some(with_run.get()))
        .await
        .unwrap();
    assert!(logs.pikaci_run.is_none());
}

#[tokio::test]
async fn ph_whoami_describes_the_token() {
    let app = TestApp::new();
    let admin = app.db.create_token("root", Role::Admin).unwrap();
    for (token, name, admin, write) in [
        (app.read.as_str(), "reader", false, false),
        (app.write.as_str(), "writer", false, true),
        (admin.as_str(), "root", true, true),
    ] {
        let me = Ph::new(app.app(), token).me().await.unwrap();
        assert_eq!(
            (
                me.npub.as_str(),
                me.is_admin,
                me.can_chat,
                me.can_forge_write
            ),
            (name, admin, false, write)
        );
    }
    for bad in [app.revoked.as_str(), "pn_nope"] {
        assert_eq!(
            Ph::new(app.app(), bad).me().await.unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Public reads describe nobody: a token is still needed.
    let public = TestApp::with_public_read(true);
    let (status, _) = public.send("GET", "/news/api/me", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_branch_address_ph_prints_leads_to_its_ci_page() {
    use tower::ServiceExt;
    let app = TestApp::new();
    let (branch, _, _) = app.branch().await;
    for (uri, to) in [
        (
            format!("/news/branch/{branch}"),
            format!("/news/branch/{branch}/ci"),
        ),
        (
            format!("/news/branch/{branch}?token=abc"),
            format!("/news/branch/{branch}/ci?token=abc"),
        ),
    ] {
        let resp = app
            .app()
            .oneshot(
                axum::http::Request::builder()
                    .uri(&uri)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{uri}");
        assert_eq!(resp.headers()["location"], to.as_str());
    }
    // A page address: its error is a page.
    let (status, headers, _) = crate::support::oneshot(
        app.app(),
        "GET",
        "/news/branch/..%2Fx",
        &[],
        axum::body::Body::empty(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

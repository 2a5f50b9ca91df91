//! Why a queued lane waits (`queue_reason`), over a real repository and
//! database on a manual clock, claimed by the scheduler's own claim: a held
//! concurrency group names its holder, full lane slots say so, a lease whose
//! runner stopped renewing it is being recovered; the first lane a reason
//! calls `next_pass` is always the one the claim takes; the API answers and
//! the pages say the same.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::StatusCode;
use jiff::SignedDuration;
use pika_news_core::db::{
    Db, Holder, LaneRunId, LaneScope, LaneStatus, QueueReason, STALE_REQUEUED,
};
use pika_news_core::lanes::git::Git;
use pika_news_core::scheduler::{Scheduler, sync_heads};
use pika_news_web::{AppState, router};
use serde_json::Value;

use crate::forge::Forge;
use crate::support::oneshot;

/// Two lanes of one group, and one of none.
const MANIFEST: &str = r#"
version = 1

[[branch.lanes]]
id = "rust"
command = ["true"]
concurrency_group = "staged-linux:pre-merge-pika-rust"

[[branch.lanes]]
id = "rust-again"
command = ["true"]
concurrency_group = "staged-linux:pre-merge-pika-rust"

[[branch.lanes]]
id = "docs"
command = ["true"]
"#;

const GROUP: &str = "staged-linux:pre-merge-pika-rust";

/// A forge whose `main` has [`MANIFEST`]'s three lanes queued (ids 1, 2, 3).
async fn forge() -> Forge {
    let f = Forge::new();
    f.push("main", &[("ci/forge-lanes.toml", MANIFEST)]);
    sync_heads(&f.db, &Git::new(f.bare.clone()), &f.repo)
        .await
        .unwrap();
    f
}

fn id(n: i64) -> LaneRunId {
    LaneRunId::new(n).unwrap()
}

/// Every lane of `main`'s newest suite, with its reason, as the database reads them.
async fn reasons(db: &Db) -> Vec<(LaneRunId, LaneStatus, Option<QueueReason>)> {
    let main = db.branch_by_name("main").await.unwrap().unwrap();
    db.suites(main.id).await.unwrap()[0]
        .lanes
        .iter()
        .map(|l| (l.id, l.status, l.queue_reason.clone()))
        .collect()
}

async fn reason_of(db: &Db, lane: LaneRunId) -> Option<QueueReason> {
    db.lane(lane).await.unwrap().unwrap().queue_reason
}

/// Claims as the scheduler does, after checking that the reasons agree
/// with it: the claim takes the oldest lane whose reason is `next_pass`, and
/// nothing when no lane has that reason.
async fn claim_agreeing(db: &Db, owner: &str) -> Option<LaneRunId> {
    let listed = reasons(db).await;
    for (_, status, reason) in &listed {
        assert_eq!(
            *status == LaneStatus::Queued,
            reason.is_some(),
            "a reason exactly while queued: {listed:?}"
        );
    }
    let next = listed
        .iter()
        .find(|(_, _, r)| r.as_ref().is_some_and(QueueReason::claimable))
        .map(|(id, _, _)| *id);
    let claimed = db.claim_lane(owner, 60).await.unwrap().map(|c| c.lane_id);
    assert_eq!(
        claimed, next,
        "the claim and the reasons disagree: {listed:?}"
    );
    claimed
}

async fn finish(db: &Db, lane: LaneRunId) {
    let fence = fence_of(db, lane).await;
    assert!(
        db.finish_lane(lane, fence, LaneStatus::Passed, None, "ok".into(), None)
            .await
            .unwrap()
    );
}

/// The fencing token of a claimed lane, as its runner holds it.
async fn fence_of(db: &Db, lane: LaneRunId) -> i64 {
    db.call(move |c| {
        Ok(c.query_row(
            "SELECT fencing_token FROM lanes WHERE id = ?1",
            [lane],
            |r| r.get(0),
        )?)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_busy_group_names_the_lane_holding_it_until_that_lane_ends() {
    let f = forge().await;
    // The scheduler tells every handle of the database its limit.
    let _scheduler = Scheduler::new(f.db.clone(), f.repo.clone(), BTreeMap::new());
    assert_eq!(f.db.lane_slots(), f.repo.ci_concurrency);
    assert_eq!(f.repo.ci_concurrency, 2);
    let main = f.db.branch_by_name("main").await.unwrap().unwrap();

    assert_eq!(reason_of(&f.db, id(2)).await, Some(QueueReason::NextPass));
    assert_eq!(claim_agreeing(&f.db, "me").await, Some(id(1)));
    // The second lane of the group waits for the first; the third does not.
    let held = reason_of(&f.db, id(2)).await.unwrap();
    assert_eq!(
        held,
        QueueReason::ConcurrencyGroup {
            group: GROUP.into(),
            holder: Holder {
                lane: id(1),
                scope: LaneScope::Branch(main.id),
            },
        }
    );
    assert_eq!(
        held.to_string(),
        "waiting for group staged-linux:pre-merge-pika-rust (lane #1 holds it)"
    );
    assert_eq!(claim_agreeing(&f.db, "me").await, Some(id(3)));
    // Both slots in use now: the group still comes first for lane 2.
    assert_eq!(reason_of(&f.db, id(2)).await, Some(held.clone()));
    assert_eq!(claim_agreeing(&f.db, "me").await, None);
    finish(&f.db, id(3)).await;
    assert_eq!(reason_of(&f.db, id(2)).await, Some(held));
    assert_eq!(claim_agreeing(&f.db, "me").await, None);

    // Once the holder ends, it runs.
    finish(&f.db, id(1)).await;
    assert_eq!(reason_of(&f.db, id(2)).await, Some(QueueReason::NextPass));
    assert_eq!(claim_agreeing(&f.db, "me").await, Some(id(2)));
    assert_eq!(reason_of(&f.db, id(2)).await, None, "running: no reason");
}

#[tokio::test]
async fn full_lane_slots_are_the_reason_when_no_group_is_held() {
    let f = forge().await;
    f.db.set_lane_slots(1);
    assert_eq!(claim_agreeing(&f.db, "me").await, Some(id(1)));
    let docs = reason_of(&f.db, id(3)).await.unwrap();
    assert_eq!(
        docs,
        QueueReason::Capacity {
            running: 1,
            slots: 1
        }
    );
    assert_eq!(
        docs.to_string(),
        "waiting for a free lane slot (1 of 1 in use)"
    );
    assert_eq!(claim_agreeing(&f.db, "me").await, None);
    // One more slot: the docs lane is next (lane 2 still waits for its group).
    f.db.set_lane_slots(2);
    assert_eq!(reason_of(&f.db, id(3)).await, Some(QueueReason::NextPass));
    assert_eq!(
        reason_of(&f.db, id(2)).await.unwrap().kind(),
        "concurrency_group"
    );
    assert_eq!(claim_agreeing(&f.db, "me").await, Some(id(3)));
}

#[tokio::test]
async fn a_lease_whose_runner_went_quiet_is_being_recovered() {
    let f = forge().await;
    f.db.set_lane_slots(1);
    assert_eq!(claim_agreeing(&f.db, "dead-runner").await, Some(id(1)));
    let fence = fence_of(&f.db, id(1)).await;
    // Heartbeats come every third of the 60 s lease: 40 s without one is
    // still within the rules.
    f.clock.advance(SignedDuration::from_secs(20));
    assert!(f.db.renew_lease(id(1), fence, 60).await.unwrap());
    f.clock.advance(SignedDuration::from_secs(40));
    assert_eq!(
        reason_of(&f.db, id(2)).await.unwrap().kind(),
        "concurrency_group"
    );
    // A beat missed: lane 1's lease is being recovered.
    f.clock.advance(SignedDuration::from_secs(1));
    let waiting = reason_of(&f.db, id(2)).await.unwrap();
    let QueueReason::LeaseRecovery {
        group,
        holder,
        expired,
        last_heartbeat_at,
        lease_expires_at,
    } = &waiting
    else {
        panic!("{waiting:?}");
    };
    assert_eq!(
        (group.as_deref(), holder.lane, *expired),
        (Some(GROUP), id(1), false)
    );
    assert_eq!(
        waiting.to_string(),
        format!(
            "waiting for group {GROUP}: lane #1 holds it, but its runner has not renewed its lease since {}: it is taken back when the lease runs out at {}",
            last_heartbeat_at.as_deref().unwrap(),
            lease_expires_at.as_deref().unwrap()
        )
    );
    // Waiting for a slot, the docs lane says the same of the slot.
    let docs = reason_of(&f.db, id(3)).await.unwrap();
    assert!(
        docs.to_string()
            .starts_with("waiting for a free lane slot: lane #1 holds one, but"),
        "{docs}"
    );
    assert_eq!(claim_agreeing(&f.db, "me").await, None);

    // The lease runs out: the next pass takes the lane back.
    f.clock.advance(SignedDuration::from_secs(20));
    assert!(matches!(
        reason_of(&f.db, id(2)).await,
        Some(QueueReason::LeaseRecovery { expired: true, .. })
    ));
    assert_eq!(f.db.recover_expired(3).await.unwrap(), 1);
    let back = f.db.lane(id(1)).await.unwrap().unwrap();
    assert_eq!(back.message.as_deref(), Some(STALE_REQUEUED));
    assert_eq!(back.queue_reason, Some(QueueReason::NextPass));
    assert_eq!(claim_agreeing(&f.db, "me").await, Some(id(1)));
}

async fn get_json(app: &axum::Router, uri: &str) -> Value {
    let (status, _, body) = oneshot(app.clone(), "GET", uri, &[], Body::empty()).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test]
async fn the_api_gives_each_queued_lane_its_reason() {
    let f = forge().await;
    f.db.set_lane_slots(2);
    assert_eq!(claim_agreeing(&f.db, "me").await, Some(id(1)));
    let main = f.db.branch_by_name("main").await.unwrap().unwrap();
    let app = router(AppState::new(
        f.db.clone(),
        f.repo.pikaci_state_root.clone(),
        true,
    ));
    let expected = serde_json::json!({
        "kind": "concurrency_group",
        "group": GROUP,
        "holder_lane_id": 1,
        "holder_branch_id": main.id.get(),
        "message": format!("waiting for group {GROUP} (lane #1 holds it)"),
    });

    // Our lane answer, under both prefixes.
    for prefix in ["/git", "/news"] {
        let lane = get_json(&app, &format!("{prefix}/api/forge/lane/2")).await;
        assert_eq!(lane["queue_reason"], expected, "{lane}");
    }
    let running = get_json(&app, "/git/api/forge/lane/1").await;
    assert_eq!(running["queue_reason"], Value::Null, "{running}");
    let docs = get_json(&app, "/git/api/forge/lane/3").await;
    assert_eq!(docs["queue_reason"]["kind"], "next_pass", "{docs}");

    // The branch answer: our suites, and upstream's CI runs, whose hint is
    // the same sentence.
    let branch = get_json(&app, &format!("/git/api/forge/branch/{}", main.id)).await;
    assert_eq!(branch["suites"][0]["lanes"][1]["queue_reason"], expected);
    let ci_lane = &branch["ci_runs"][0]["lanes"][1];
    assert_eq!(ci_lane["queue_reason"], expected, "{ci_lane}");
    assert_eq!(ci_lane["execution_reason"], "blocked_by_concurrency_group");
    let hint = ci_lane["operator_hint"].as_str().unwrap();
    assert!(
        hint.ends_with(&format!(": waiting for group {GROUP} (lane #1 holds it)")),
        "{hint}"
    );
    // The suites list and the branch's lane logs answer.
    let suites = get_json(&app, &format!("/git/api/forge/branch/{}/suites", main.id)).await;
    assert_eq!(
        suites["suites"][0]["lanes"][1]["queue_reason"], expected,
        "{suites}"
    );
    let logs = get_json(
        &app,
        &format!("/git/api/forge/branch/{}/logs?lane_run_id=2", main.id),
    )
    .await;
    assert_eq!(logs["lane"]["queue_reason"], expected, "{logs}");
}

#[tokio::test]
async fn the_pages_say_why_a_lane_waits_and_link_the_lane_it_waits_for() {
    let f = forge().await;
    f.db.set_lane_slots(2);
    assert_eq!(claim_agreeing(&f.db, "me").await, Some(id(1)));
    let main = f.db.branch_by_name("main").await.unwrap().unwrap();
    let app = router(AppState::new(
        f.db.clone(),
        f.repo.pikaci_state_root.clone(),
        true,
    ));
    let page = |uri: String| {
        let app = app.clone();
        async move {
            let (status, _, body) = oneshot(app, "GET", &uri, &[], Body::empty()).await;
            assert_eq!(status, StatusCode::OK);
            String::from_utf8(body.to_vec()).unwrap()
        }
    };
    let holder = format!("/news/branch/{}/ci/lane/1", main.id);
    let shown = format!(
        "<div class=\"queue-reason\" data-queue-reason=\"concurrency_group\">waiting for group {GROUP} (lane #1 holds it) · <a href=\"{holder}\">lane #1</a></div>"
    );
    let branch = page(format!("/news/branch/{}/ci", main.id)).await;
    assert!(branch.contains(&shown), "{branch}");
    assert!(
        branch.contains("data-queue-reason=\"next_pass\">nothing holds it back"),
        "{branch}"
    );
    let lane = page(format!("/news/branch/{}/ci/lane/2", main.id)).await;
    assert!(lane.contains(&shown), "{lane}");
    let running = page(holder).await;
    assert!(!running.contains("data-queue-reason"), "{running}");
}

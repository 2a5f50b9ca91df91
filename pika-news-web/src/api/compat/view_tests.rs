//! Upstream's words for our rows.

use super::*;
use crate::db::{Lane, LaneRunId, SuiteId};

fn lane(id: i64, name: &str, status: LaneStatus) -> LaneDetail {
    LaneDetail {
        run: Lane {
            id: LaneRunId::new(id).unwrap(),
            suite_id: SuiteId::new(1).unwrap(),
            lane: name.into(),
            title: name.into(),
            status,
            failure_kind: None,
            pikaci_run_id: None,
            attempts: 0,
            message: None,
            created_at: "2026-03-24T16:00:00Z".into(),
            started_at: None,
            finished_at: None,
            concurrency_group: None,
            queue_reason: None,
        },
        entrypoint: None,
        command: None,
        retry_count: 0,
        rerun_of: None,
        lease_expires_at: None,
        last_heartbeat_at: None,
    }
}

/// Queued behind lane `holder` of group `staged-linux:x`.
fn held_by(holder: i64) -> db::QueueReason {
    db::QueueReason::ConcurrencyGroup {
        group: "staged-linux:x".into(),
        holder: db::Holder {
            lane: LaneRunId::new(holder).unwrap(),
            scope: db::LaneScope::Branch(db::BranchId::new(1).unwrap()),
        },
    }
}

#[test]
fn suites_fold_as_upstream_folds_them() {
    use LaneStatus::*;
    let fold = |lanes: &[(&str, LaneStatus)]| {
        let lanes: Vec<_> = lanes
            .iter()
            .enumerate()
            .map(|(i, (n, s))| lane(i as i64 + 1, n, *s))
            .collect();
        fold_status(SuiteStatus::Running, &lanes)
    };
    assert_eq!(fold(&[]), ForgeCiStatus::Success);
    assert_eq!(fold_status(SuiteStatus::Failed, &[]), ForgeCiStatus::Failed);
    assert_eq!(fold(&[("a", Queued), ("b", Queued)]), ForgeCiStatus::Queued);
    assert_eq!(
        fold(&[("a", Queued), ("b", Passed)]),
        ForgeCiStatus::Running
    );
    assert_eq!(
        fold(&[("a", Queued), ("b", Failed)]),
        ForgeCiStatus::Running
    );
    assert_eq!(
        fold(&[("a", Running), ("b", Failed)]),
        ForgeCiStatus::Running
    );
    assert_eq!(
        fold(&[("a", Passed), ("b", Passed)]),
        ForgeCiStatus::Success
    );
    assert_eq!(fold(&[("a", Passed), ("b", Failed)]), ForgeCiStatus::Failed);
    assert_eq!(
        fold(&[("a", Passed), ("b", Cancelled)]),
        ForgeCiStatus::Failed
    );
    // A rerun that passed replaces the run it repeats.
    assert_eq!(
        fold(&[("a", Failed), ("b", Passed), ("a", Passed)]),
        ForgeCiStatus::Success
    );
    assert_eq!(
        fold(&[("a", Failed), ("a", Running)]),
        ForgeCiStatus::Running
    );
}

#[test]
fn statuses_and_failure_kinds_use_upstreams_words() {
    assert_eq!(lane_status(LaneStatus::Passed), CiLaneStatus::Success);
    assert_eq!(lane_status(LaneStatus::Cancelled), CiLaneStatus::Cancelled);
    let json = |v: serde_json::Value| v.as_str().unwrap().to_owned();
    assert_eq!(json(serde_json::json!(CiLaneStatus::Success)), "success");
    assert_eq!(json(serde_json::json!(ForgeCiStatus::Queued)), "queued");
    assert_eq!(
        json(serde_json::json!(
            CiLaneExecutionReason::BlockedByConcurrencyGroup
        )),
        "blocked_by_concurrency_group"
    );
    use FailureKind::*;
    assert_eq!(
        failure_kind(LaneStatus::Failed, Some(TestFailure)),
        Some(CiLaneFailureKind::TestFailure)
    );
    assert_eq!(
        failure_kind(LaneStatus::Failed, Some(Interrupted)),
        Some(CiLaneFailureKind::Infrastructure)
    );
    assert_eq!(failure_kind(LaneStatus::Failed, Some(Cancelled)), None);
    assert_eq!(failure_kind(LaneStatus::Cancelled, Some(Cancelled)), None);
    assert_eq!(failure_kind(LaneStatus::Cancelled, Some(Timeout)), None);
    assert_eq!(failure_kind(LaneStatus::Passed, Some(Timeout)), None);
}

#[test]
fn timing_summaries_read_like_upstreams() {
    let now: Timestamp = "2026-03-24T17:00:00Z".parse().unwrap();
    let c = "2026-03-24T16:00:00Z";
    assert_eq!(
        timing_summary(c, None, None, now).as_deref(),
        Some("queued 1h 00m")
    );
    assert_eq!(
        timing_summary(
            c,
            Some("2026-03-24T16:00:05Z"),
            Some("2026-03-24T16:01:07Z"),
            now
        )
        .as_deref(),
        Some("queued 5s · ran 1m 02s")
    );
    assert_eq!(
        timing_summary(c, Some("2026-03-24T16:00:05Z"), None, now).as_deref(),
        Some("queued 5s · ran 59m 55s")
    );
    assert_eq!(
        timing_summary("2026-03-20T15:00:00Z", None, None, now).as_deref(),
        Some("queued 4d 02h")
    );
    assert_eq!(timing_summary("not a time", None, None, now), None);
}

#[test]
fn why_a_lane_waits() {
    let reason = |l: &LaneDetail| LaneView::from(l.clone()).waiting().map(execution_reason);
    let mut l = lane(1, "a", LaneStatus::Queued);
    assert_eq!(reason(&l), Some(CiLaneExecutionReason::Queued));
    l.run.queue_reason = Some(held_by(41));
    assert_eq!(
        reason(&l),
        Some(CiLaneExecutionReason::BlockedByConcurrencyGroup)
    );
    l.run.message = Some(db::STALE_REQUEUED.into());
    assert_eq!(reason(&l), Some(CiLaneExecutionReason::StaleRecovered));
    l.run.status = LaneStatus::Running;
    assert_eq!(reason(&l), Some(CiLaneExecutionReason::Running));
    l.run.status = LaneStatus::Passed;
    assert_eq!(reason(&l), None);
}

#[test]
fn a_lane_shows_its_target_and_entrypoint() {
    let now: Timestamp = "2026-03-24T17:00:00Z".parse().unwrap();
    let mut l = lane(7, "linux", LaneStatus::Cancelled);
    l.run.failure_kind = Some(FailureKind::Cancelled);
    l.command = Some(r#"{"pikaci_target":"pre-merge"}"#.into());
    let v = ci_lane(l.clone(), Some("log".into()), now);
    assert_eq!(v.entrypoint, "pikaci run pre-merge");
    assert_eq!(v.pikaci_target_id.as_deref(), Some("pre-merge"));
    assert_eq!(v.failure_kind, None, "a cancelled lane's status says it");
    assert_eq!(v.log_text.as_deref(), Some("log"));
    assert_eq!(v.lane_id, "linux");
    l.entrypoint = Some("just linux".into());
    l.command = Some(r#"{"argv":["make"]}"#.into());
    let v = ci_lane(l, None, now);
    assert_eq!(
        (v.entrypoint.as_str(), v.pikaci_target_id),
        ("just linux", None)
    );
}

#[test]
fn a_lane_carries_upstreams_newest_words_and_an_operator_hint() {
    let now: Timestamp = "2026-03-24T16:20:00Z".parse().unwrap();
    // Queued 20 minutes behind the running lane #41 of its group.
    let mut l = lane(42, "linux", LaneStatus::Queued);
    l.run.concurrency_group = Some("staged-linux:x".into());
    l.run.queue_reason = Some(held_by(41));
    let v = ci_lane(l.clone(), None, now);
    assert_eq!(
        v.operator_hint.as_deref(),
        Some(
            "queued 20m 00s: waiting for group staged-linux:x (lane #41 holds it); wake CI or requeue it if the scheduler is stuck"
        )
    );
    assert_eq!(v.status_tone, Some("warning"));
    assert_eq!(
        v.execution_reason_label,
        Some("blocked by concurrency group")
    );
    let why = v.queue_reason.as_ref().unwrap();
    assert_eq!(
        (why.kind, why.group.as_deref(), why.holder_lane_id),
        (
            crate::api::queue_reason::QueueReasonKind::ConcurrencyGroup,
            Some("staged-linux:x"),
            LaneRunId::new(41)
        )
    );
    assert!(
        v.operator_hint.as_deref().unwrap().contains(&why.message),
        "the hint and the reason are one sentence"
    );
    // Put back after its runner stopped answering: the hint says so first.
    let mut stale = l.clone();
    stale.run.message = Some(db::STALE_REQUEUED.into());
    stale.run.queue_reason = Some(db::QueueReason::NextPass);
    assert_eq!(
        ci_lane(stale, None, now).operator_hint.as_deref(),
        Some(
            "queued 20m 00s: requeued after its runner stopped renewing its lease; nothing holds it back: the scheduler claims it at its next pass; wake CI or requeue it if the scheduler is stuck"
        )
    );
    assert_eq!(v.is_failed, Some(false));
    assert_eq!((v.failure_kind_label, v.last_heartbeat_at), (None, None));

    // Running, with its lease and last heartbeat.
    l.run.status = LaneStatus::Running;
    l.run.started_at = Some("2026-03-24T16:17:00Z".into());
    l.lease_expires_at = Some("2026-03-24T16:21:00Z".into());
    l.last_heartbeat_at = Some("2026-03-24T16:19:30Z".into());
    let v = ci_lane(l.clone(), None, now);
    assert_eq!(
        v.operator_hint.as_deref(),
        Some(
            "running 3m 00s: lease until 2026-03-24T16:21:00Z, last heartbeat 2026-03-24T16:19:30Z"
        )
    );
    assert_eq!(v.last_heartbeat_at.as_deref(), Some("2026-03-24T16:19:30Z"));
    assert_eq!(v.execution_reason_label, Some("running"));
    l.lease_expires_at = Some("2026-03-24T16:19:59Z".into());
    let hint = ci_lane(l.clone(), None, now).operator_hint.unwrap();
    assert!(
        hint.contains("lease expired at 2026-03-24T16:19:59Z"),
        "{hint}"
    );
    // At its very moment a lease still holds, as recover_expired and the
    // queue reasons judge it.
    l.lease_expires_at = Some(now.to_string());
    let hint = ci_lane(l.clone(), None, now).operator_hint.unwrap();
    assert!(hint.contains("lease until"), "{hint}");

    // Failed: when, and why in words.
    l.run.status = LaneStatus::Failed;
    l.run.failure_kind = Some(FailureKind::Timeout);
    l.run.finished_at = Some("2026-03-24T16:19:00Z".into());
    let v = ci_lane(l.clone(), None, now);
    assert_eq!(
        v.operator_hint.as_deref(),
        Some("failed at 2026-03-24T16:19:00Z: timeout")
    );
    assert_eq!((v.status_tone, v.is_failed), (Some("danger"), Some(true)));
    assert_eq!(v.failure_kind_label, Some("timeout"));
    assert_eq!(
        (v.execution_reason_label, v.last_heartbeat_at),
        (None, None)
    );

    // Passed: nothing to say.
    l.run.status = LaneStatus::Passed;
    let v = ci_lane(l, None, now);
    assert_eq!((v.operator_hint, v.status_tone), (None, Some("success")));
}

#[test]
fn runs_carry_their_tone() {
    for (status, tone) in [
        (ForgeCiStatus::Success, "success"),
        (ForgeCiStatus::Failed, "danger"),
        (ForgeCiStatus::Running, "warning"),
        (ForgeCiStatus::Queued, "warning"),
    ] {
        assert_eq!(hints::run_tone(status), tone);
    }
}

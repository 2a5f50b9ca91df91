//! Our rows in upstream's words: lane and CI statuses, failure kinds, why a
//! lane waits, timing summaries, and the status a suite folds to.

use jiff::Timestamp;
use pikaci_core::FailureKind;

use super::dto::{
    BranchSummary, CiLane, CiLaneExecutionReason, CiLaneFailureKind, CiLaneStatus, CiRun,
    ForgeCiStatus, NightlyDetail, TutorialStatus,
};
use super::hints::{self, compact};
use crate::api::lane_view::{LaneView, Waiting};
use crate::api::queue_reason::LaneQueueReason;
use crate::db::{self, BranchMeta, LaneDetail, LaneStatus, NightlyRun, SuiteDetail, SuiteStatus};

/// A lane status in upstream's words.
pub(crate) fn lane_status(s: LaneStatus) -> CiLaneStatus {
    match s {
        LaneStatus::Queued => CiLaneStatus::Queued,
        LaneStatus::Running => CiLaneStatus::Running,
        LaneStatus::Passed => CiLaneStatus::Success,
        LaneStatus::Failed => CiLaneStatus::Failed,
        LaneStatus::Cancelled => CiLaneStatus::Cancelled,
    }
}

/// Why a lane failed, in upstream's words: only a failed lane has a kind,
/// and a lost run (its owner died) counts as infrastructure.
pub(crate) fn failure_kind(
    status: LaneStatus,
    kind: Option<FailureKind>,
) -> Option<CiLaneFailureKind> {
    if status != LaneStatus::Failed {
        return None;
    }
    match kind? {
        FailureKind::TestFailure => Some(CiLaneFailureKind::TestFailure),
        FailureKind::Timeout => Some(CiLaneFailureKind::Timeout),
        FailureKind::Infrastructure | FailureKind::Interrupted => {
            Some(CiLaneFailureKind::Infrastructure)
        }
        FailureKind::Cancelled => None,
    }
}

/// Why a lane waits, in upstream's words.
fn execution_reason(w: Waiting) -> CiLaneExecutionReason {
    match w {
        Waiting::Running => CiLaneExecutionReason::Running,
        Waiting::StaleRecovered => CiLaneExecutionReason::StaleRecovered,
        Waiting::BlockedByGroup => CiLaneExecutionReason::BlockedByConcurrencyGroup,
        Waiting::Queued => CiLaneExecutionReason::Queued,
    }
}

/// `queued 5s · ran 1m 02s`: how long it waited, and how long it ran (so
/// far, while it runs), as upstream shows it.
pub(crate) fn timing_summary(
    created: &str,
    started: Option<&str>,
    finished: Option<&str>,
    now: Timestamp,
) -> Option<String> {
    let at = |s: &str| s.parse::<Timestamp>().ok();
    let (created, started, finished) = (at(created), started.and_then(at), finished.and_then(at));
    let part = |label: &str, from: Timestamp, to: Timestamp| {
        let secs = to.as_second() - from.as_second();
        (secs >= 0).then(|| format!("{label} {}", compact(secs)))
    };
    let queued = created.and_then(|c| part("queued", c, started.or(finished).unwrap_or(now)));
    let ran = started.and_then(|s| part("ran", s, finished.unwrap_or(now)));
    let parts: Vec<String> = [queued, ran].into_iter().flatten().collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// One lane run in upstream's view; `log_text` only where it is sent.
pub(crate) fn ci_lane(
    view: impl Into<LaneView>,
    log_text: Option<String>,
    now: Timestamp,
) -> CiLane {
    let view: LaneView = view.into();
    let (entrypoint, pikaci_target_id) = (view.entrypoint(), view.pikaci_target());
    let execution_reason = view.waiting().map(execution_reason);
    let (retry_count, rerun_of, lease) =
        (view.retry_count(), view.rerun_of(), view.lease_expires_at());
    let status = lane_status(view.status());
    let failure = failure_kind(view.status(), view.failure_kind());
    let operator_hint = hints::operator_hint(&view, status, execution_reason, failure, now);
    let queue_reason = view.queue_reason().map(LaneQueueReason::from);
    let last_heartbeat_at = view
        .last_heartbeat_at()
        .filter(|_| view.status() == LaneStatus::Running);
    let r = view.into_row();
    CiLane {
        id: r.id,
        lane_id: r.lane.clone(),
        title: r.title,
        entrypoint,
        status,
        status_tone: Some(hints::lane_tone(status)),
        is_failed: Some(status == CiLaneStatus::Failed),
        execution_reason,
        execution_reason_label: execution_reason.map(hints::reason_label),
        failure_kind: failure,
        failure_kind_label: failure.map(hints::failure_label),
        pikaci_run_id: r.pikaci_run_id.map(|r| r.as_str().to_owned()),
        pikaci_target_id,
        log_text,
        retry_count,
        rerun_of_lane_run_id: rerun_of,
        timing_summary: timing_summary(
            &r.created_at,
            r.started_at.as_deref(),
            r.finished_at.as_deref(),
            now,
        ),
        created_at: r.created_at,
        started_at: r.started_at,
        finished_at: r.finished_at,
        last_heartbeat_at,
        lease_expires_at: lease,
        operator_hint,
        queue_reason,
        suite_id: r.suite_id,
        lane: r.lane,
        attempts: r.attempts,
        message: r.message,
    }
}

/// The lane runs that count for a suite's status: a run a rerun replaced
/// (a newer run of the same lane in the suite) does not.
fn current(lanes: &[LaneDetail]) -> impl Iterator<Item = &LaneDetail> {
    lanes.iter().filter(|l| {
        !lanes
            .iter()
            .any(|n| n.run.lane == l.run.lane && n.run.id > l.run.id)
    })
}

/// A suite's status in upstream's words, folded from its current lanes as
/// upstream folds them; a suite without lanes is `failed` when it could not
/// start (a manifest error) and `success` otherwise, and a cancelled lane
/// counts as not passed.
pub(crate) fn fold_status(suite: SuiteStatus, lanes: &[LaneDetail]) -> ForgeCiStatus {
    let (mut total, mut success, mut running, mut queued, mut failed) = (0, 0, 0, 0, 0);
    for l in current(lanes) {
        total += 1;
        match l.run.status {
            LaneStatus::Passed => success += 1,
            LaneStatus::Running => running += 1,
            LaneStatus::Queued => queued += 1,
            LaneStatus::Failed | LaneStatus::Cancelled => failed += 1,
        }
    }
    if total == 0 {
        return if suite == SuiteStatus::Failed {
            ForgeCiStatus::Failed
        } else {
            ForgeCiStatus::Success
        };
    }
    if success == total {
        ForgeCiStatus::Success
    } else if running > 0 || (queued > 0 && success + failed > 0) {
        ForgeCiStatus::Running
    } else if queued > 0 {
        ForgeCiStatus::Queued
    } else {
        ForgeCiStatus::Failed
    }
}

/// When a suite's first lane started, and when it finished (once it has).
fn span(
    status: ForgeCiStatus,
    created: &str,
    lanes: &[LaneDetail],
) -> (Option<String>, Option<String>) {
    let started = lanes.iter().filter_map(|l| l.run.started_at.clone()).min();
    let finished = matches!(status, ForgeCiStatus::Success | ForgeCiStatus::Failed).then(|| {
        lanes
            .iter()
            .filter_map(|l| l.run.finished_at.clone())
            .max()
            .unwrap_or_else(|| created.to_owned())
    });
    (started, finished)
}

/// A suite as upstream's CI run.
pub(crate) fn ci_run(s: SuiteDetail, now: Timestamp) -> CiRun {
    let status = fold_status(s.status, &s.lanes);
    let (started_at, finished_at) = span(status, &s.created_at, &s.lanes);
    CiRun {
        id: s.id,
        source_head_sha: s.head,
        status,
        status_tone: Some(hints::run_tone(status)),
        lane_count: s.lanes.len(),
        rerun_of_run_id: None,
        timing_summary: timing_summary(
            &s.created_at,
            started_at.as_deref(),
            finished_at.as_deref(),
            now,
        ),
        created_at: s.created_at,
        started_at,
        finished_at,
        lanes: s.lanes.into_iter().map(|l| ci_lane(l, None, now)).collect(),
    }
}

/// A nightly run in upstream's view.
pub(crate) fn nightly_detail(run: NightlyRun, repo: &str, now: Timestamp) -> NightlyDetail {
    let status = fold_status(run.status, &run.lanes);
    let (started_at, finished_at) = span(status, &run.created_at, &run.lanes);
    NightlyDetail {
        nightly_run_id: run.id,
        repo: repo.to_owned(),
        scheduled_for: run.scheduled_for,
        created_at: run.created_at,
        source_ref: run.source_ref,
        source_head_sha: run.head,
        status,
        summary: run.summary,
        rerun_of_run_id: run.rerun_of,
        started_at,
        finished_at,
        lanes: run
            .lanes
            .into_iter()
            .map(|l| ci_lane(l, None, now))
            .collect(),
        suite_id: run.suite_id,
        lane_source: run.lane_source,
    }
}

/// The repository a view speaks of.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RepoView<'a> {
    /// Its name, e.g. `sledtools/pika`.
    pub(crate) name: &'a str,
    /// Its default branch.
    pub(crate) default_branch: &'a str,
}

/// A branch as upstream's summary: its newest suite (if any) gives its CI
/// status and, when it could not start, the error.
pub(crate) fn branch_summary(
    branch: &db::Branch,
    meta: BranchMeta,
    newest: Option<&SuiteDetail>,
    repo: RepoView<'_>,
) -> BranchSummary {
    let (ci_status, error_message) = match newest {
        None => (ForgeCiStatus::Queued, None),
        Some(s) => {
            let status = fold_status(s.status, &s.lanes);
            let error = (s.lanes.is_empty() && s.status == SuiteStatus::Failed)
                .then(|| s.message.clone())
                .flatten();
            (status, error)
        }
    };
    BranchSummary {
        branch_id: branch.id,
        repo: repo.name.to_owned(),
        branch_name: branch.name.clone(),
        title: meta.title.unwrap_or_else(|| branch.name.clone()),
        branch_state: branch.state,
        updated_at: branch.updated_at.clone(),
        target_branch: repo.default_branch.to_owned(),
        head_sha: branch
            .head
            .clone()
            .or_else(|| newest.map(|s| s.head.clone()))
            .unwrap_or_default(),
        merge_base_sha: meta.merge_base.unwrap_or_default(),
        merge_commit_sha: branch.merge_commit.clone(),
        tutorial_status: TutorialStatus::Pending,
        ci_status,
        error_message,
    }
}

#[cfg(test)]
#[path = "view_tests.rs"]
mod tests;

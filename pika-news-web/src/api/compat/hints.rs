//! Upstream's newest per-lane words (`pika-forge-model` at dd226e25): the
//! tone a status is coloured with, labels of reasons and failure kinds, and
//! the one-line `operator_hint` that says where a lane is and what to do.

use jiff::Timestamp;

use super::dto::{CiLaneExecutionReason, CiLaneFailureKind, CiLaneStatus, ForgeCiStatus};
use crate::api::lane_view::LaneView;

/// A queued lane older than this gets a nudge in its hint (upstream's 15 minutes).
const QUEUED_TOO_LONG_SECS: i64 = 15 * 60;

/// `success`, `danger` or `warning`, as upstream's `ci_status_tone`.
pub(crate) fn lane_tone(status: CiLaneStatus) -> &'static str {
    match status {
        CiLaneStatus::Success => "success",
        CiLaneStatus::Failed | CiLaneStatus::Cancelled => "danger",
        CiLaneStatus::Queued | CiLaneStatus::Running => "warning",
    }
}

/// The same for a CI run's status.
pub(crate) fn run_tone(status: ForgeCiStatus) -> &'static str {
    match status {
        ForgeCiStatus::Success => "success",
        ForgeCiStatus::Failed => "danger",
        ForgeCiStatus::Queued | ForgeCiStatus::Running => "warning",
    }
}

/// Upstream's `CiLaneExecutionReason::label`.
pub(crate) fn reason_label(reason: CiLaneExecutionReason) -> &'static str {
    match reason {
        CiLaneExecutionReason::Queued => "queued",
        CiLaneExecutionReason::Running => "running",
        CiLaneExecutionReason::BlockedByConcurrencyGroup => "blocked by concurrency group",
        CiLaneExecutionReason::StaleRecovered => "stale recovered",
    }
}

/// Upstream's `CiLaneFailureKind::label`.
pub(crate) fn failure_label(kind: CiLaneFailureKind) -> &'static str {
    match kind {
        CiLaneFailureKind::TestFailure => "test failure",
        CiLaneFailureKind::Timeout => "timeout",
        CiLaneFailureKind::Infrastructure => "infrastructure",
    }
}

/// `3d 04h`, `2h 05m`, `1m 02s`, `7s` since `from`, if it parses.
fn age(from: &str, now: Timestamp) -> Option<(i64, String)> {
    let from: Timestamp = from.parse().ok()?;
    let secs = (now.as_second() - from.as_second()).max(0);
    Some((secs, compact(secs)))
}

/// Where the lane is, in one line.
pub(crate) fn operator_hint(
    v: &LaneView,
    status: CiLaneStatus,
    reason: Option<CiLaneExecutionReason>,
    failure: Option<CiLaneFailureKind>,
    now: Timestamp,
) -> Option<String> {
    let r = v.row();
    match status {
        CiLaneStatus::Queued => {
            let (secs, waited) = age(&r.created_at, now).unwrap_or((0, "0s".into()));
            // The reason every answer and page gives (one rule, the claim's).
            let why = v
                .queue_reason()
                .map_or_else(|| "waiting its turn".to_owned(), ToString::to_string);
            let why = if reason == Some(CiLaneExecutionReason::StaleRecovered) {
                format!("requeued after its runner stopped renewing its lease; {why}")
            } else {
                why
            };
            let nudge = if secs >= QUEUED_TOO_LONG_SECS {
                "; wake CI or requeue it if the scheduler is stuck"
            } else {
                ""
            };
            Some(format!("queued {waited}: {why}{nudge}"))
        }
        CiLaneStatus::Running => {
            let ran = r
                .started_at
                .as_deref()
                .and_then(|s| age(s, now))
                .map_or_else(String::new, |(_, a)| format!(" {a}"));
            // Expired once past it, as `recover_expired` and the queue
            // reasons judge a lease (at its very moment it still holds).
            let lease = match v.lease_expires_at().as_deref() {
                Some(until) if until.parse::<Timestamp>().is_ok_and(|t| t < now) => {
                    format!("lease expired at {until}")
                }
                Some(until) => format!("lease until {until}"),
                None => "no lease".to_owned(),
            };
            let beat = v
                .last_heartbeat_at()
                .as_deref()
                .map_or_else(String::new, |b| format!(", last heartbeat {b}"));
            Some(format!("running{ran}: {lease}{beat}"))
        }
        CiLaneStatus::Failed => {
            let at = r
                .finished_at
                .as_deref()
                .map_or_else(|| "failed".to_owned(), |f| format!("failed at {f}"));
            Some(match failure {
                Some(kind) => format!("{at}: {}", failure_label(kind)),
                None => at,
            })
        }
        CiLaneStatus::Cancelled => {
            Some(r.message.clone().unwrap_or_else(|| "cancelled".to_owned()))
        }
        CiLaneStatus::Success => None,
    }
}

/// `3d 04h`, `2h 05m`, `1m 02s`, `7s`.
pub(crate) fn compact(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m, sec) = (s / 86_400, (s % 86_400) / 3_600, (s % 3_600) / 60, s % 60);
    if d > 0 {
        format!("{d}d {h:02}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {sec:02}s")
    } else {
        format!("{sec}s")
    }
}

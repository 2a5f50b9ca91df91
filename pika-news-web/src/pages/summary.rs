//! What a suite adds up to: how many lanes passed and failed, how long it
//! waited in the queue and how long it ran, and the one line that says so
//! ("Latest run #45 failed · 9 passed 1 failed · queued 2m 08s · ran 24m 31s").

use jiff::{SignedDuration, Timestamp};
use maud::{Markup, html};

use super::format::{duration, parse_time};
use crate::db::{Lane, LaneRunId, LaneStatus, Suite};

/// The counts and times of one suite.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SuiteSummary {
    /// Lanes that passed.
    pub passed: usize,
    /// Lanes that failed.
    pub failed: usize,
    /// Lanes running now.
    pub running: usize,
    /// Lanes waiting in the queue.
    pub queued: usize,
    /// Lanes cancelled.
    pub cancelled: usize,
    /// When the first lane started.
    pub started: Option<Timestamp>,
    /// When the last lane finished, once none is left to run.
    pub finished: Option<Timestamp>,
    /// From the suite's creation to its first lane's start (or until now).
    pub queued_for: Option<SignedDuration>,
    /// From the first start to the last finish (or until now).
    pub ran_for: Option<SignedDuration>,
}

impl SuiteSummary {
    /// Whether a lane is still queued or running.
    pub(crate) fn active(&self) -> bool {
        self.running + self.queued > 0
    }

    /// The non-zero counts: `(count, class, word)`.
    fn counts(&self) -> impl Iterator<Item = (usize, &'static str, &'static str)> {
        [
            (self.passed, "p", "passed"),
            (self.failed, "f", "failed"),
            (self.running, "r", "running"),
            (self.queued, "q", "queued"),
            (self.cancelled, "c", "cancelled"),
        ]
        .into_iter()
        .filter(|(n, _, _)| *n > 0)
    }

    /// `9 passed 1 failed 2 running`, coloured, or `no lanes`.
    pub(crate) fn counts_html(&self) -> Markup {
        html! {
            span.counts {
                @for (i, (n, class, word)) in self.counts().enumerate() {
                    @if i > 0 { " " }
                    span class=(class) { (n) " " (word) }
                }
                @if self.counts().next().is_none() {
                    span.q { "no lanes" }
                }
            }
        }
    }

    /// `queued 2m 08s · ran 24m 31s` (`running for ...` while it runs).
    pub(crate) fn times_text(&self) -> Vec<String> {
        let mut parts = Vec::new();
        if let Some(q) = self.queued_for {
            parts.push(if self.started.is_none() && self.active() {
                format!("queued for {}", duration(q))
            } else {
                format!("queued {}", duration(q))
            });
        }
        if let Some(r) = self.ran_for {
            parts.push(if self.active() {
                format!("running for {}", duration(r))
            } else {
                format!("ran {}", duration(r))
            });
        }
        parts
    }
}

/// How long a lane has run (or ran): `None` before it started.
pub(crate) fn lane_duration(lane: &Lane, now: Timestamp) -> Option<SignedDuration> {
    let start = parse_time(lane.started_at.as_deref()?)?;
    let end = match lane.status {
        LaneStatus::Running => now,
        _ => lane.finished_at.as_deref().and_then(parse_time)?,
    };
    Some(end.duration_since(start))
}

/// The newer run of the same lane in the suite that replaced `lane` (a
/// rerun), if any: only a lane's newest run counts for its suite.
pub(crate) fn replaced_by(suite: &Suite, lane: &Lane) -> Option<LaneRunId> {
    suite
        .lanes
        .iter()
        .filter(|l| l.lane == lane.lane && l.id.get() > lane.id.get())
        .map(|l| l.id)
        .max_by_key(|id| id.get())
}

/// Adds up a suite at `now`, counting each lane's newest run only.
pub(crate) fn summarize(suite: &Suite, now: Timestamp) -> SuiteSummary {
    let mut s = SuiteSummary::default();
    let mut last_finish: Option<Timestamp> = None;
    for lane in suite
        .lanes
        .iter()
        .filter(|l| replaced_by(suite, l).is_none())
    {
        match lane.status {
            LaneStatus::Passed => s.passed += 1,
            LaneStatus::Failed => s.failed += 1,
            LaneStatus::Running => s.running += 1,
            LaneStatus::Queued => s.queued += 1,
            LaneStatus::Cancelled => s.cancelled += 1,
        }
        if let Some(t) = lane.started_at.as_deref().and_then(parse_time) {
            s.started = Some(s.started.map_or(t, |f| f.min(t)));
        }
        if let Some(t) = lane.finished_at.as_deref().and_then(parse_time) {
            last_finish = Some(last_finish.map_or(t, |f| f.max(t)));
        }
    }
    if !s.active() {
        s.finished = last_finish;
    }
    let created = parse_time(&suite.created_at);
    s.queued_for = match (created, s.started) {
        (Some(c), Some(st)) => Some(st.duration_since(c)),
        (Some(c), None) if s.active() => Some(now.duration_since(c)),
        _ => None,
    };
    s.ran_for = match (s.started, s.finished) {
        (Some(st), Some(f)) => Some(f.duration_since(st)),
        (Some(st), None) if s.active() => Some(now.duration_since(st)),
        _ => None,
    };
    s
}

/// The summary line of a suite (`label`: `Latest run #45`).
pub(crate) fn summary_line(label: &str, suite: &Suite, s: &SuiteSummary) -> Markup {
    let status = suite.status.as_str();
    html! {
        span { b { (label) } " " span class={ "st st-" (status) } { (status) } }
        span.sep { "·" }
        (s.counts_html())
        @for t in s.times_text() {
            span.sep { "·" }
            span.dur { (t) }
        }
    }
}

/// The same line as plain text (for titles and tests).
pub(crate) fn summary_text(label: &str, suite: &Suite, s: &SuiteSummary) -> String {
    let mut counts: Vec<String> = s.counts().map(|(n, _, w)| format!("{n} {w}")).collect();
    if counts.is_empty() {
        counts.push("no lanes".into());
    }
    let mut parts = vec![
        format!("{label} {}", suite.status.as_str()),
        counts.join(" "),
    ];
    parts.extend(s.times_text());
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{LaneRunId, SuiteId, SuiteStatus};

    fn lane(id: i64, status: LaneStatus, started: Option<&str>, finished: Option<&str>) -> Lane {
        Lane {
            id: LaneRunId::new(id).unwrap(),
            suite_id: SuiteId::new(45).unwrap(),
            lane: format!("lane{id}"),
            title: format!("lane {id}"),
            status,
            failure_kind: None,
            pikaci_run_id: None,
            attempts: 1,
            message: None,
            created_at: "2026-03-24T16:00:00Z".into(),
            started_at: started.map(Into::into),
            finished_at: finished.map(Into::into),
            concurrency_group: None,
            queue_reason: None,
        }
    }

    fn suite(status: SuiteStatus, lanes: Vec<Lane>) -> Suite {
        Suite {
            id: SuiteId::new(45).unwrap(),
            head: "a".repeat(40),
            status,
            message: None,
            created_at: "2026-03-24T16:00:00Z".into(),
            lane_source: None,
            lanes,
        }
    }

    #[test]
    fn a_finished_suite_reads_like_the_summary_line() {
        let mut lanes: Vec<Lane> = (1..=9)
            .map(|i| {
                lane(
                    i,
                    LaneStatus::Passed,
                    Some("2026-03-24T16:02:08Z"),
                    Some("2026-03-24T16:20:00Z"),
                )
            })
            .collect();
        lanes.push(lane(
            10,
            LaneStatus::Failed,
            Some("2026-03-24T16:03:00Z"),
            Some("2026-03-24T16:26:39Z"),
        ));
        let s = suite(SuiteStatus::Failed, lanes);
        let now: Timestamp = "2026-03-24T17:00:00Z".parse().unwrap();
        let sum = summarize(&s, now);
        assert_eq!(
            summary_text("Latest run #45", &s, &sum),
            "Latest run #45 failed · 9 passed 1 failed · queued 2m 08s · ran 24m 31s"
        );
        assert!(
            summary_line("Latest run #45", &s, &sum)
                .into_string()
                .contains("<span class=\"p\">9 passed</span> <span class=\"f\">1 failed</span>")
        );
    }

    #[test]
    fn a_rerun_replaces_the_run_it_repeats() {
        let mut failed = lane(
            1,
            LaneStatus::Failed,
            Some("2026-03-24T16:00:10Z"),
            Some("2026-03-24T16:01:00Z"),
        );
        failed.lane = "tests".into();
        let mut rerun = lane(
            3,
            LaneStatus::Passed,
            Some("2026-03-24T16:05:00Z"),
            Some("2026-03-24T16:06:00Z"),
        );
        rerun.lane = "tests".into();
        let other = lane(
            2,
            LaneStatus::Passed,
            Some("2026-03-24T16:00:10Z"),
            Some("2026-03-24T16:00:50Z"),
        );
        let s = suite(SuiteStatus::Passed, vec![failed, other, rerun]);
        assert_eq!(
            replaced_by(&s, &s.lanes[0]),
            Some(LaneRunId::new(3).unwrap())
        );
        assert_eq!(replaced_by(&s, &s.lanes[2]), None);
        let now: Timestamp = "2026-03-24T17:00:00Z".parse().unwrap();
        assert_eq!(
            summary_text("Latest run #45", &s, &summarize(&s, now)),
            "Latest run #45 passed · 2 passed · queued 10s · ran 5m 50s"
        );
    }

    #[test]
    fn a_running_suite_counts_until_now() {
        let s = suite(
            SuiteStatus::Running,
            vec![
                lane(1, LaneStatus::Running, Some("2026-03-24T16:00:12Z"), None),
                lane(2, LaneStatus::Queued, None, None),
            ],
        );
        let now: Timestamp = "2026-03-24T16:03:14Z".parse().unwrap();
        let sum = summarize(&s, now);
        assert_eq!(
            summary_text("Latest run #45", &s, &sum),
            "Latest run #45 running · 1 running 1 queued · queued 12s · running for 3m 02s"
        );
        assert_eq!(
            lane_duration(&s.lanes[0], now),
            Some(SignedDuration::from_secs(182))
        );
        let waiting = suite(
            SuiteStatus::Running,
            vec![lane(1, LaneStatus::Queued, None, None)],
        );
        assert_eq!(
            summary_text("Latest run #45", &waiting, &summarize(&waiting, now)),
            "Latest run #45 running · 1 queued · queued for 3m 14s"
        );
        let empty = suite(SuiteStatus::Passed, vec![]);
        assert_eq!(
            summary_text("Latest run #45", &empty, &summarize(&empty, now)),
            "Latest run #45 passed · no lanes"
        );
    }
}

//! Text the pages show for times and durations: pure functions, so the
//! wording is tested without a page. The template engine escapes it.

use jiff::{SignedDuration, Timestamp};
use maud::{Markup, html};
use pikaci_core::{JobRecord, RunStatus};

/// A stored time (RFC 3339), if it parses.
pub(crate) fn parse_time(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

/// A duration as CI pages write it: `0.4s`, `12s`, `2m 08s`, `1h 02m`.
pub(crate) fn duration(d: SignedDuration) -> String {
    let ms = d.as_millis().max(0);
    if ms < 10_000 {
        let tenths = ms / 100;
        return if tenths % 10 == 0 {
            format!("{}s", tenths / 10)
        } else {
            format!("{}.{}s", tenths / 10, tenths % 10)
        };
    }
    let secs = ms / 1000;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, (secs % 3600) / 60),
    }
}

/// The time between two instants, as [`duration`] writes it.
pub(crate) fn between(from: Timestamp, to: Timestamp) -> String {
    duration(to.duration_since(from))
}

/// How long a job took, or has been running at `now`; empty when it
/// stopped without a finish time.
pub(crate) fn job_took(job: &JobRecord, now: Timestamp) -> String {
    match (job.status, job.finished_at) {
        (_, Some(f)) => between(job.started_at, f),
        (RunStatus::Running, None) => between(job.started_at, now),
        _ => String::new(),
    }
}

/// How long ago `t` was, seen at `now`: `just now`, `42s ago`, `5m ago`,
/// `3h ago`, `2d ago`, then the date.
pub(crate) fn relative(t: Timestamp, now: Timestamp) -> String {
    let secs = now.duration_since(t).as_secs();
    match secs {
        i64::MIN..-60 => format!("in {}", duration(t.duration_since(now))),
        -60..10 => "just now".to_owned(),
        10..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86_400 => format!("{}h ago", secs / 3600),
        86_400..2_592_000 => format!("{}d ago", secs / 86_400),
        _ => t.strftime("%Y-%m-%d").to_string(),
    }
}

/// The exact time, for a tooltip: `2026-03-24 16:12:38 UTC`.
pub(crate) fn exact(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A `<time>` element: the relative time, the exact one on hover, and the
/// machine-readable one the script keeps the text fresh with.
pub(crate) fn time_element(t: Timestamp, now: Timestamp) -> Markup {
    html! { time datetime=(t) title=(exact(t)) { (relative(t, now)) } }
}

/// A stored time as a `<time>` element, or `fallback` when there is none.
pub(crate) fn stored_time_element(s: Option<&str>, now: Timestamp, fallback: &str) -> Markup {
    match s.and_then(parse_time) {
        Some(t) => time_element(t, now),
        None => html! { (fallback) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(n: i64) -> SignedDuration {
        SignedDuration::from_secs(n)
    }

    #[test]
    fn durations_read_like_a_ci_page() {
        assert_eq!(duration(SignedDuration::from_millis(400)), "0.4s");
        assert_eq!(duration(SignedDuration::from_millis(0)), "0s");
        assert_eq!(duration(secs(3)), "3s");
        assert_eq!(duration(secs(12)), "12s");
        assert_eq!(duration(secs(128)), "2m 08s");
        assert_eq!(duration(secs(24 * 60 + 31)), "24m 31s");
        assert_eq!(duration(secs(3600 + 125)), "1h 02m");
        assert_eq!(duration(secs(-5)), "0s");
    }

    #[test]
    fn relative_times() {
        let now: Timestamp = "2026-03-24T16:12:38Z".parse().unwrap();
        let ago = |n: i64| relative(now.checked_sub(secs(n)).unwrap(), now);
        assert_eq!(ago(3), "just now");
        assert_eq!(ago(42), "42s ago");
        assert_eq!(ago(300), "5m ago");
        assert_eq!(ago(3 * 3600 + 5), "3h ago");
        assert_eq!(ago(2 * 86_400), "2d ago");
        assert_eq!(ago(40 * 86_400), "2026-02-12");
        assert_eq!(ago(-120), "in 2m 00s");
        assert_eq!(exact(now), "2026-03-24 16:12:38 UTC");
        assert_eq!(
            time_element(now, now).into_string(),
            "<time datetime=\"2026-03-24T16:12:38Z\" title=\"2026-03-24 16:12:38 UTC\">just now</time>"
        );
    }
}

//! How `pikaci list` and `pikaci status` show run records. Every string
//! taken from a record goes through [`terminal`], so one row stays one row
//! and no escape sequence reaches the terminal.

use std::time::Duration;

use jiff::Timestamp;
use pikaci_core::engine::human_duration;
use pikaci_core::{FailureKind, PreparedOutputs, RunId, RunRecord, RunStatus};
use pikaci_store::StoreError;

use pikaci_core::escape_controls as terminal;

/// The header of `pikaci list`.
pub(crate) fn list_header() -> String {
    format!(
        "{:<26} {:<9} {:>8} {:>8} {:<11} {:<16} {:<20} {:<6} MESSAGE",
        "RUN", "STATUS", "AGE", "DURATION", "COMMIT", "BRANCH", "TARGET", "JOBS"
    )
}

/// The status a person reads: `cancelled` for a run that failed because it
/// was cancelled (on disk it is `failed` with `failure_kind` `cancelled`).
pub(crate) fn status_word(r: &RunRecord) -> &'static str {
    match (r.status, r.failure_kind) {
        (RunStatus::Failed, Some(FailureKind::Cancelled)) => "cancelled",
        (s, _) => s.as_str(),
    }
}

/// A duration for a column: `4s`, `3m12s`, `2h05m`, `3d04h`.
fn short_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

fn between(from: Timestamp, to: Timestamp) -> Option<Duration> {
    to.duration_since(from).try_into().ok()
}

/// One row of `pikaci list`: the run, or why it cannot be shown. Age and
/// a running run's duration are as of `now`.
pub(crate) fn list_row(
    id: &RunId,
    loaded: &Result<RunRecord, StoreError>,
    now: Timestamp,
) -> String {
    let id = terminal(id.as_str());
    match loaded {
        Ok(r) => {
            let passed = r
                .jobs
                .iter()
                .filter(|j| j.status == RunStatus::Passed)
                .count();
            let total = r.jobs.len().max(r.planned_jobs.len());
            let target = r.target_id.as_ref().map_or("-", |t| t.as_str());
            let age = between(r.created_at, now).map_or("-".into(), short_duration);
            let took = between(r.created_at, r.finished_at.unwrap_or(now))
                .map_or("-".into(), short_duration);
            let commit = match &r.git_head {
                Some(h) => format!(
                    "{}{}",
                    h.chars().take(10).collect::<String>(),
                    if r.git_dirty == Some(true) { "+" } else { "" }
                ),
                None => "-".into(),
            };
            let branch = r.git_branch.as_deref().map_or("-".into(), |b| clip(b, 16));
            format!(
                "{:<26} {:<9} {:>8} {:>8} {:<11} {:<16} {:<20} {:<6} {}",
                id,
                status_word(r),
                age,
                took,
                terminal(&commit),
                terminal(&branch),
                terminal(target),
                format!("{passed}/{total}"),
                terminal(r.message.as_deref().unwrap_or_default())
            )
        }
        Err(StoreError::RunNotFound { .. }) => format!(
            "{id:<26} {:<9} no run.json: the run's process stopped before writing it",
            "incomplete"
        ),
        Err(e) => format!("{id:<26} {:<9} {}", "error", terminal(&e.to_string())),
    }
}

/// `s` cut to `width` characters, its end marked with `…` when cut, so a
/// long branch name keeps the columns after it in place.
fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    let mut cut: String = s.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// What `pikaci status` prints for a run.
pub(crate) fn status_text(r: &RunRecord) -> String {
    let mut text = format!(
        "run     {}\nstatus  {}",
        terminal(r.run_id.as_str()),
        status_word(r)
    );
    match (r.failure_kind, &r.cancel_reason) {
        (Some(FailureKind::Cancelled), Some(why)) => text.push_str(&format!(": {}", terminal(why))),
        (Some(FailureKind::Cancelled), None) => {}
        (Some(k), _) => text.push_str(&format!(" ({k})")),
        (None, _) => {}
    }
    text.push('\n');
    if let Some(t) = &r.target_id {
        text.push_str(&format!("target  {}\n", terminal(t.as_str())));
    }
    if let Some(o) = &r.rerun_of {
        text.push_str(&format!("rerun   of {}\n", terminal(o.as_str())));
    }
    if let Some(o) = &r.snapshot_of {
        text.push_str(&format!(
            "source  the snapshot kept by {}\n",
            terminal(o.as_str())
        ));
    }
    text.push_str(&format!("created {}\n", r.created_at));
    if let Some(f) = r.finished_at {
        text.push_str(&format!("ended   {f}\n"));
    }
    if let Some(h) = &r.git_head {
        let dirty = if r.git_dirty == Some(true) {
            " (dirty)"
        } else {
            ""
        };
        text.push_str(&format!("git     {}{dirty}\n", terminal(h)));
    }
    if let Some(b) = &r.git_branch {
        text.push_str(&format!("branch  {}\n", terminal(b)));
    }
    if let Some(m) = &r.message {
        text.push_str(&format!("message {}\n", terminal(m)));
    }
    if let Some(w) = &r.snapshot_warning {
        text.push_str(&format!("warning {}\n", terminal(w)));
    }
    text.push_str("jobs:\n");
    for j in &r.jobs {
        let took = j
            .finished_at
            .and_then(|f| f.duration_since(j.started_at).try_into().ok())
            .map(|d: Duration| format!(" in {}", human_duration(d)))
            .unwrap_or_default();
        let why = j
            .message
            .as_deref()
            .map(|m| format!("  {}", terminal(m)))
            .unwrap_or_default();
        let cut = if j.log_truncated {
            "  (guest.log cut at max_log_bytes)"
        } else {
            ""
        };
        text.push_str(&format!(
            "  {:<24} {:<8} {}{took}{why}{cut}\n",
            terminal(j.id.as_str()),
            j.status.as_str(),
            terminal(j.executor.as_str()),
        ));
    }
    for p in r.planned_jobs.iter().filter(|p| r.job(p).is_none()) {
        text.push_str(&format!("  {:<24} pending\n", terminal(p.as_str())));
    }
    text
}

/// What `pikaci prepared-outputs` prints: a line for the run, then a row
/// per output (every text from the file escaped, like a record's).
pub(crate) fn prepared_outputs_text(run: &RunId, p: &PreparedOutputs) -> String {
    let mut text = format!(
        "run {}: {} prepared output{} (schema {})\n",
        terminal(run.as_str()),
        p.outputs.len(),
        if p.outputs.len() == 1 { "" } else { "s" },
        p.schema_version
    );
    if p.outputs.is_empty() {
        return text;
    }
    text.push_str(&format!(
        "{:<24} {:<24} {:<18} {:<40} INSTALLABLE\n",
        "NODE", "OUTPUT", "PAYLOAD", "PATH"
    ));
    for o in &p.outputs {
        text.push_str(&format!(
            "{:<24} {:<24} {:<18} {:<40} {}\n",
            terminal(&o.node_id),
            terminal(&o.output_name),
            terminal(o.payload_kind().unwrap_or("-")),
            terminal(&o.realized_path),
            terminal(&o.installable)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use pikaci_core::{ExecutorKind, JobRecord};

    use super::*;

    fn hostile() -> RunRecord {
        let mut r = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        r.message = Some("ok\n20990101T000000Z-00000000 passed  all good\x1b[2J".into());
        r.git_head = Some("abc\x1b]0;title\x07".into());
        let mut job = JobRecord::for_test("build", r.created_at);
        job.message = Some("line\rover".into());
        job.executor = ExecutorKind::from("host\n  forged   passed");
        r.jobs = vec![job];
        r
    }

    #[test]
    fn a_record_cannot_forge_rows_or_send_escapes() {
        let r = hostile();
        let row = list_row(&r.run_id, &Ok(r.clone()), r.created_at);
        assert_eq!(row.lines().count(), 1, "{row}");
        assert!(row.ends_with("ok\\n20990101T000000Z-00000000 passed  all good\\x1b[2J"));
        let text = status_text(&r);
        // run, status, created, ended, git, message, jobs:, one job.
        assert_eq!(text.lines().count(), 8, "{text}");
        for c in text.chars() {
            assert!(c == '\n' || !c.is_control(), "{c:?} in {text}");
        }
        assert!(text.contains("git     abc\\x1b]0;title\\x07\n"), "{text}");
        assert!(text.contains("host\\n  forged   passed"), "{text}");
    }

    #[test]
    fn the_branch_column_is_clipped_so_the_columns_after_it_stay_in_place() {
        let mut r = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        r.target_id = Some("pre-merge".parse().unwrap());
        let at = |row: &str| row[..row.find("pre-merge").unwrap()].chars().count();
        let none = list_row(&r.run_id, &Ok(r.clone()), r.created_at);
        r.git_branch = Some("feature/a-very-long-branch-name".into());
        let long = list_row(&r.run_id, &Ok(r.clone()), r.created_at);
        assert!(long.contains("feature/a-very-…"), "{long}");
        assert_eq!(at(&long), at(&none), "{none}\n{long}");
        assert!(list_header().contains("BRANCH"));
        assert_eq!(at(&list_header().replace("TARGET", "pre-merge")), at(&none));
        r.git_branch = Some("main".into());
        assert!(status_text(&r).contains("branch  main\n"));
    }

    #[test]
    fn an_incomplete_kept_snapshot_is_a_warning_line() {
        let mut r = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        assert!(!status_text(&r).contains("warning"));
        r.snapshot_warning = Some("the snapshot kept for reruns is incomplete\x1b[2J".into());
        assert!(
            status_text(&r)
                .contains("warning the snapshot kept for reruns is incomplete\\x1b[2J\n"),
            "{}",
            status_text(&r)
        );
    }

    #[test]
    fn errors_quoting_a_record_are_escaped_too() {
        let id: RunId = "20260324T161238Z-1a2b3c4d".parse().unwrap();
        let err = StoreError::Corrupt {
            run: id.clone(),
            file: "run.json".into(),
            message: "unknown variant `\x1b[31mred`".into(),
        };
        let row = list_row(&id, &Err(err), jiff::Timestamp::UNIX_EPOCH);
        assert!(!row.contains('\x1b'), "{row}");
        assert!(row.contains("\\x1b[31mred"), "{row}");
    }
}

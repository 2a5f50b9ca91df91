//! Why a lane failed, where people look (the branch page, the overview):
//! pikaci's own account of its run (`failed: test (exit 101)`, from the
//! run's record) and a few lines of the failing job's output, its last
//! error-looking lines. A lane without a pikaci run (a plain argv lane)
//! shows its own log's end instead.
//!
//! Only the end of a log is read ([`EXCERPT_BYTES`], through the read
//! model's tail path): a log can be a gigabyte, a page must stay cheap.

use maud::{Markup, html};
use pikaci_core::{JobId, LogKind, RunRecord, RunStatus};
use pikaci_store::LogRange;

use super::Scope;
use crate::db::{Lane, LaneStatus};
use crate::links::{Prefix, query_value};
use crate::state::AppState;

/// How much of the end of a log is read for its excerpt.
const EXCERPT_BYTES: u64 = 16 * 1024;
/// How many lines an excerpt shows at most.
const EXCERPT_LINES: usize = 5;
/// How many characters of one line an excerpt shows.
const LINE_CHARS: usize = 240;
/// Words that make a line look like an error (matched without case).
const ERROR_WORDS: &[&str] = &[
    "error",
    "failed",
    "failure",
    "fail:",
    "fail ",
    "panicked",
    "assert",
    "fatal",
    "exception",
    "traceback",
    "command not found",
    "no such file or directory",
    "permission denied",
];

/// What a failed lane shows: why, and the lines that say it.
pub(crate) struct Failure {
    /// `failed: test (exit 101)`, or the lane's own message.
    pub(crate) why: Option<String>,
    /// The failing job (none: the lane's own log).
    pub(crate) job: Option<JobId>,
    /// The excerpt's lines, control sequences stripped.
    pub(crate) lines: Vec<String>,
}

/// The message a lane shows: pikaci's account of its failed run when its
/// record says one, else the lane's own message.
pub(crate) fn lane_message(lane: &Lane, run: Option<&RunRecord>) -> Option<String> {
    run.filter(|_| lane.status == LaneStatus::Failed)
        .and_then(RunRecord::why_failed)
        .or_else(|| lane.message.clone())
}

/// Why `lane` failed and the end of the failing output; `None` unless the
/// lane failed.
pub(crate) async fn lane_failure(
    state: &AppState,
    lane: &Lane,
    run: Option<&RunRecord>,
) -> Option<Failure> {
    if lane.status != LaneStatus::Failed {
        return None;
    }
    let why = lane_message(lane, run);
    let failed_job = run.and_then(|r| r.jobs.iter().find(|j| j.status == RunStatus::Failed));
    let (job, text) = match (run, failed_job) {
        (Some(run), Some(job)) => (Some(job.id.clone()), job_tail(state, run, &job.id).await),
        _ => (None, lane_tail(state, lane).await),
    };
    Some(Failure {
        why,
        job,
        lines: text.map(|t| excerpt(&t)).unwrap_or_default(),
    })
}

/// The end of a job's output (its pikaci log when the output is empty).
async fn job_tail(state: &AppState, run: &RunRecord, job: &JobId) -> Option<String> {
    let logs = state
        .reads
        .job_logs(
            state.reads.fresh(),
            run.run_id.clone(),
            Some(job.clone()),
            LogKind::Both,
            LogRange::Tail(EXCERPT_BYTES),
        )
        .await
        .inspect_err(|e| tracing::debug!(error = %e, "no excerpt of a job's log"))
        .ok()?;
    [logs.guest, logs.host]
        .into_iter()
        .flatten()
        .find(|c| !c.text.trim().is_empty())
        .map(|c| whole_lines(c.text, c.offset))
}

/// The end of a lane run's own log.
async fn lane_tail(state: &AppState, lane: &Lane) -> Option<String> {
    let chunk = state.reads.lane_log_tail(lane.id, EXCERPT_BYTES).await?;
    Some(whole_lines(chunk.text, chunk.offset))
}

/// `text` from its first whole line when it does not start the log.
fn whole_lines(text: String, offset: u64) -> String {
    match (offset, text.find('\n')) {
        (0, _) | (_, None) => text,
        (_, Some(i)) => text[i + 1..].to_owned(),
    }
}

/// The lines of a log's end worth showing: its last error-looking lines,
/// else its last lines; control sequences stripped, long lines cut, the
/// service's own lines left out (they repeat the message).
pub(crate) fn excerpt(text: &str) -> Vec<String> {
    let lines: Vec<String> = text
        .lines()
        .map(strip_controls)
        .filter(|l| !l.trim().is_empty() && !l.starts_with("[pika-news]"))
        .collect();
    let erring: Vec<&String> = lines.iter().filter(|l| looks_like_an_error(l)).collect();
    let chosen: Vec<&String> = if erring.is_empty() {
        lines.iter().collect()
    } else {
        erring
    };
    let from = chosen.len().saturating_sub(EXCERPT_LINES);
    chosen[from..].iter().map(|l| cut(l)).collect()
}

fn looks_like_an_error(line: &str) -> bool {
    let lower = line.to_lowercase();
    ERROR_WORDS.iter().any(|w| lower.contains(w)) || lower.trim_end().ends_with(" fail")
}

fn cut(line: &str) -> String {
    match line.char_indices().nth(LINE_CHARS) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_owned(),
    }
}

/// `line` without its terminal control sequences (colours, cursor moves,
/// titles) and other control characters but tabs.
pub(crate) fn strip_controls(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates up to a final byte.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC: up to BEL or ESC \.
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                // Other escapes: an intermediate byte names a character
                // set (`ESC ( B`), its final byte goes with it.
                Some(c) if ('\u{20}'..='\u{2f}').contains(&c) => {
                    chars.next();
                }
                _ => {}
            },
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The failure under a lane's name: why, the excerpt, and where it is from.
pub(crate) fn failure_html(prefix: Prefix, scope: Scope, lane: &Lane, f: &Failure) -> Markup {
    let href = scope.lane(prefix, lane.id);
    let (from_href, from) = match &f.job {
        Some(job) => (
            format!("{href}?job={}", query_value(job.as_str())),
            format!("{job} output"),
        ),
        None => (format!("{href}?kind=lane"), "lane output".to_owned()),
    };
    html! {
        div.failure data-failure=(lane.id) {
            @if let Some(why) = &f.why { div.why { (why) } }
            @if !f.lines.is_empty() {
                pre.excerpt { @for l in &f.lines { (l) "\n" } }
                a.excerpt-from href=(from_href) { "from " (from) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_error_looking_lines_are_kept_stripped() {
        let log = "compiling\n\x1b[1m\x1b[31merror[E0308]\x1b[0m: mismatched types\n  --> src/a.rs:3\n\
                   test a ... ok\ntest b ... \x1b[31mFAILED\x1b[0m\n\
                   thread 'b' panicked at src/b.rs:9:5:\nassertion `left == right` failed\n\
                   note: run with `RUST_BACKTRACE=1`\n[pika-news] lane failed: exit 101\n";
        assert_eq!(
            excerpt(log),
            [
                "error[E0308]: mismatched types",
                "test b ... FAILED",
                "thread 'b' panicked at src/b.rs:9:5:",
                "assertion `left == right` failed",
            ]
        );
    }

    #[test]
    fn without_an_error_line_the_last_lines_are_kept() {
        let log: String = (1..=9).map(|i| format!("line {i}\n")).collect();
        assert_eq!(
            excerpt(&log),
            ["line 5", "line 6", "line 7", "line 8", "line 9"]
        );
        assert!(excerpt("").is_empty());
    }

    #[test]
    fn controls_go_and_long_lines_are_cut() {
        assert_eq!(
            strip_controls("\x1b]0;title\x07a\x1b[2Kb\x1b]8;;x\x1b\\c\td\re\x1b(B"),
            "abc\tde"
        );
        let long = "error ".repeat(100);
        let got = excerpt(&long);
        assert_eq!(got[0].chars().count(), LINE_CHARS + 1);
        assert!(got[0].ends_with('…'));
    }

    #[test]
    fn a_tail_starts_at_its_first_whole_line() {
        assert_eq!(whole_lines("tial\nwhole\n".into(), 10), "whole\n");
        assert_eq!(whole_lines("start\nx\n".into(), 0), "start\nx\n");
    }
}

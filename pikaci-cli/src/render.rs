//! Observers that print a run as it happens: human, JSON or JSONL.
//!
//! Human output goes to stdout: a line as each job starts and ends, under
//! each failure the last lines of its output, and a `read why` line for every
//! failed job. When stderr is a terminal, a live line there shows how many
//! jobs are done, the time since the run started and what is running.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pikaci_core::engine::{RunObserver, human_duration};
use pikaci_core::{FailureKind, JobId, JobRecord, LifecycleEvent, LogFile, RunId, RunStatus};
use pikaci_store::Store;

use crate::args::Output;
use crate::style::Style;
use crate::tail::{last_lines_start, sanitize_line};
use pikaci_core::escape_controls as terminal;

/// The most bytes read back from a failed job's log for its last lines.
const FAILURE_TAIL_BYTES: u64 = 1 << 20;
/// How many lines the `read why` command asks for.
const READ_WHY_LINES: u64 = 200;

/// What the live line shows: jobs running (with when they started), how
/// many are done out of how many, and when the run started.
struct Progress {
    running: Mutex<Vec<(JobId, Instant)>>,
    done: AtomicUsize,
    total: usize,
    since: Instant,
}

impl Progress {
    fn line(&self, frame: &str) -> String {
        let running = self.running.lock().map(|r| r.clone()).unwrap_or_default();
        let names = running
            .iter()
            .map(|(id, t)| format!("{} {}", terminal(id.as_str()), human_duration(t.elapsed())))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "{frame} {}/{} done, {} elapsed{}{names}",
            self.done.load(Ordering::Relaxed),
            self.total,
            human_duration(self.since.elapsed()),
            if names.is_empty() { "" } else { "; running: " }
        )
    }
}

/// How a [`Renderer`] prints.
pub(crate) struct RenderOptions {
    pub(crate) output: Output,
    pub(crate) style: Style,
    /// Lines of a failed job's output shown under it (0: none).
    pub(crate) failure_lines: u64,
    /// How many jobs the run means to run.
    pub(crate) total: usize,
}

/// Prints events according to `--output`.
pub(crate) struct Renderer {
    opts: RenderOptions,
    store: Store,
    progress: Arc<Progress>,
    /// Whether the live line is drawn (human output, stderr a terminal).
    live: bool,
}

impl Renderer {
    /// A renderer reading failed jobs' logs from `store`.
    pub(crate) fn new(opts: RenderOptions, store: Store) -> Self {
        let live = opts.output == Output::Human && std::io::stderr().is_terminal();
        Self {
            progress: Arc::new(Progress {
                running: Mutex::default(),
                done: AtomicUsize::new(0),
                total: opts.total,
                since: Instant::now(),
            }),
            opts,
            store,
            live,
        }
    }

    /// Starts the live line (call inside the runtime); returns its task.
    pub(crate) fn spawn_ticker(&self) -> Option<tokio::task::JoinHandle<()>> {
        if !self.live {
            return None;
        }
        let progress = self.progress.clone();
        Some(tokio::spawn(async move {
            const FRAMES: [&str; 4] = ["|", "/", "-", "\\"];
            let mut i = 0;
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let line = progress.line(FRAMES[i % FRAMES.len()]);
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K{line}");
                let _ = err.flush();
                i += 1;
            }
        }))
    }

    fn clear_live_line(&self) {
        if self.live {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }

    fn human(&self, event: &LifecycleEvent) {
        let mut text = String::new();
        match event {
            LifecycleEvent::RunStarted {
                run_id,
                target_id,
                rerun_of,
                ..
            } => {
                let target = target_id
                    .as_ref()
                    .map(|t| format!(" target {}", terminal(t.as_str())))
                    .unwrap_or_default();
                let rerun = rerun_of
                    .as_ref()
                    .map(|r| format!(" (rerun of {})", terminal(r.as_str())))
                    .unwrap_or_default();
                text = format!(
                    "{} {}{target}{rerun} ({} job{})\n",
                    self.opts.style.bold("pikaci run"),
                    terminal(run_id.as_str()),
                    self.opts.total,
                    if self.opts.total == 1 { "" } else { "s" }
                );
            }
            LifecycleEvent::JobStarted { job, .. } if job.status == RunStatus::Running => {
                if let Ok(mut r) = self.progress.running.lock() {
                    r.push((job.id.clone(), Instant::now()));
                }
                text = format!(
                    "  {}  {}{}\n",
                    self.opts.style.dim("start"),
                    terminal(job.id.as_str()),
                    describe(job)
                );
            }
            LifecycleEvent::JobStarted { .. } => {}
            LifecycleEvent::JobFinished { run_id, job } => {
                text = self.job_finished(run_id, job);
            }
            LifecycleEvent::RunFinished { run } => {
                let style = self.opts.style;
                let status = match (run.status, run.failure_kind) {
                    (RunStatus::Passed, _) => style.green(run.status),
                    (_, Some(FailureKind::Cancelled)) => style.yellow("cancelled"),
                    (s, _) => style.red(s),
                };
                text = format!(
                    "{} {status} in {}: {}\n",
                    terminal(run.run_id.as_str()),
                    human_duration(self.progress.since.elapsed()),
                    terminal(run.message.as_deref().unwrap_or(""))
                );
                if let Some(warning) = &run.snapshot_warning {
                    text.push_str(&format!(
                        "  {}: {}\n",
                        style.yellow("warning"),
                        terminal(warning)
                    ));
                }
                for failed in run.jobs.iter().filter(|j| j.status == RunStatus::Failed) {
                    text.push_str(&format!(
                        "  read why: pikaci logs {} --job {} --tail {READ_WHY_LINES}\n",
                        terminal(run.run_id.as_str()),
                        terminal(failed.id.as_str())
                    ));
                }
            }
        }
        self.clear_live_line();
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }

    fn job_finished(&self, run_id: &RunId, job: &JobRecord) -> String {
        let style = self.opts.style;
        let elapsed = self.take_started(&job.id);
        self.progress.done.fetch_add(1, Ordering::Relaxed);
        let took = elapsed
            .map(|d| format!(" in {}", human_duration(d)))
            .unwrap_or_default();
        let mark = match job.status {
            RunStatus::Passed => style.green(style.mark("✓", "pass")),
            RunStatus::Failed => style.red(style.mark("✗", "FAIL")),
            RunStatus::Skipped => style.yellow(style.mark("-", "skip")),
            RunStatus::Running => "?".to_owned(),
        };
        let why = match (job.status, &job.message) {
            (RunStatus::Passed, _) | (_, None) => String::new(),
            (_, Some(m)) => format!(": {}", terminal(m)),
        };
        let cut = if job.log_truncated {
            " (guest.log cut at max_log_bytes)"
        } else {
            ""
        };
        let mut text = format!("  {mark}   {}{took}{why}{cut}\n", terminal(job.id.as_str()));
        if job.status == RunStatus::Failed && self.opts.failure_lines > 0 {
            text.push_str(&self.failure_excerpt(run_id, &job.id));
        }
        text
    }

    /// The last lines of a failed job's output (its `guest.log`, else its
    /// `host.log`), indented under it. Nothing when they cannot be read: the
    /// `read why` line still says where they are.
    fn failure_excerpt(&self, run_id: &RunId, job: &JobId) -> String {
        let style = self.opts.style;
        let Ok(dir) = self.store.run(run_id).and_then(|r| r.job(Some(job))) else {
            return String::new();
        };
        for file in [LogFile::Guest, LogFile::Host] {
            let Ok(Some(reader)) = dir.log(file).open() else {
                continue;
            };
            let Ok(size) = reader.size() else { continue };
            let Ok(start) = last_lines_start(&reader, self.opts.failure_lines, FAILURE_TAIL_BYTES)
            else {
                continue;
            };
            let mut bytes = vec![0u8; (size - start) as usize];
            let mut filled = 0;
            while filled < bytes.len() {
                match reader.read_at(&mut bytes[filled..], start + filled as u64) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => filled += n,
                }
            }
            bytes.truncate(filled);
            if bytes.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let bar = style.dim(if style.color() { "│" } else { "|" });
            let mut text = String::new();
            for line in String::from_utf8_lossy(&bytes).lines() {
                text.push_str(&format!(
                    "      {bar} {}\n",
                    sanitize_line(line, style.color())
                ));
            }
            return text;
        }
        String::new()
    }

    fn take_started(&self, id: &JobId) -> Option<Duration> {
        let mut r = self.progress.running.lock().ok()?;
        let pos = r.iter().position(|(j, _)| j == id)?;
        Some(r.remove(pos).1.elapsed())
    }
}

fn describe(job: &JobRecord) -> String {
    if job.description.is_empty() {
        String::new()
    } else {
        format!("  ({})", terminal(&job.description))
    }
}

impl RunObserver for Renderer {
    fn event(&self, event: &LifecycleEvent) {
        match self.opts.output {
            Output::Human => self.human(event),
            Output::Jsonl => {
                if let Ok(line) = serde_json::to_string(event) {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
                }
            }
            Output::Json => {
                if let LifecycleEvent::RunFinished { run } = event
                    && let Ok(text) = serde_json::to_string_pretty(run)
                {
                    let _ = writeln!(std::io::stdout(), "{text}");
                }
            }
        }
    }

    fn warning(&self, message: &str) {
        self.clear_live_line();
        let _ = writeln!(std::io::stderr(), "warning: {}", terminal(message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_line_counts_jobs_done_and_names_the_running_ones() {
        let p = Progress {
            running: Mutex::new(vec![("test".parse().unwrap(), Instant::now())]),
            done: AtomicUsize::new(2),
            total: 5,
            since: Instant::now(),
        };
        let line = p.line("|");
        assert!(line.starts_with("| 2/5 done, "), "{line}");
        assert!(line.contains(" elapsed; running: test "), "{line}");
        p.running.lock().unwrap().clear();
        let line = p.line("/");
        assert!(
            line.starts_with("/ 2/5 done, ") && line.ends_with(" elapsed"),
            "{line}"
        );
    }
}

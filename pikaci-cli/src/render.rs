//! Observers that print a run as it happens: human, JSON or JSONL.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pikaci_core::engine::{RunObserver, human_duration};
use pikaci_core::{JobId, JobRecord, LifecycleEvent, RunStatus};

use crate::args::Output;
use pikaci_core::escape_controls as terminal;

/// Jobs running now, with when they started.
type Running = Arc<Mutex<Vec<(JobId, Instant)>>>;

/// Prints events according to `--output`.
pub(crate) struct Renderer {
    output: Output,
    live: Option<Running>,
    started: Mutex<Vec<(JobId, Instant)>>,
}

impl Renderer {
    /// A renderer; with human output and a terminal on stderr, a live line
    /// shows which jobs are running.
    pub(crate) fn new(output: Output) -> Self {
        let live = (output == Output::Human && std::io::stderr().is_terminal()).then(Arc::default);
        Self {
            output,
            live,
            started: Mutex::default(),
        }
    }

    /// Starts the live indication (call inside the runtime); returns its task.
    pub(crate) fn spawn_ticker(&self) -> Option<tokio::task::JoinHandle<()>> {
        let live = self.live.clone()?;
        Some(tokio::spawn(async move {
            const FRAMES: [&str; 4] = ["|", "/", "-", "\\"];
            let mut i = 0;
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let line = {
                    let running = live.lock().map(|r| r.clone()).unwrap_or_default();
                    running
                        .iter()
                        .map(|(id, t)| {
                            format!("{} {}", terminal(id.as_str()), human_duration(t.elapsed()))
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                if !line.is_empty() {
                    let _ = write!(
                        std::io::stderr(),
                        "\r\x1b[2K{} running: {line}",
                        FRAMES[i % FRAMES.len()]
                    );
                    let _ = std::io::stderr().flush();
                }
                i += 1;
            }
        }))
    }

    fn clear_live_line(&self) {
        if self.live.is_some() {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }

    fn human(&self, event: &LifecycleEvent) {
        let mut out = std::io::stdout().lock();
        self.clear_live_line();
        let _ = match event {
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
                writeln!(
                    out,
                    "pikaci run {}{target}{rerun}",
                    terminal(run_id.as_str())
                )
            }
            LifecycleEvent::JobStarted { job, .. } if job.status == RunStatus::Running => {
                if let Ok(mut s) = self.started.lock() {
                    s.push((job.id.clone(), Instant::now()));
                }
                if let Some(mut l) = self.live.as_ref().and_then(|l| l.lock().ok()) {
                    l.push((job.id.clone(), Instant::now()));
                }
                writeln!(
                    out,
                    "  start  {}{}",
                    terminal(job.id.as_str()),
                    describe(job)
                )
            }
            LifecycleEvent::JobStarted { .. } => Ok(()),
            LifecycleEvent::JobFinished { job, .. } => {
                let elapsed = self.take_started(&job.id);
                let took = elapsed
                    .map(|d| format!(" in {}", human_duration(d)))
                    .unwrap_or_default();
                let mark = match job.status {
                    RunStatus::Passed => "pass ",
                    RunStatus::Failed => "FAIL ",
                    RunStatus::Skipped => "skip ",
                    RunStatus::Running => "?    ",
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
                writeln!(
                    out,
                    "  {mark}  {}{took}{why}{cut}",
                    terminal(job.id.as_str())
                )
            }
            LifecycleEvent::RunFinished { run } => {
                let mut s = writeln!(
                    out,
                    "{} {}: {}",
                    terminal(run.run_id.as_str()),
                    run.status,
                    terminal(run.message.as_deref().unwrap_or(""))
                );
                if let Some(failed) = run.jobs.iter().find(|j| j.status == RunStatus::Failed) {
                    s = s.and_then(|()| {
                        writeln!(
                            out,
                            "  read why: pikaci logs {} --job {} --tail 65536",
                            terminal(run.run_id.as_str()),
                            terminal(failed.id.as_str())
                        )
                    });
                }
                s
            }
        };
        let _ = out.flush();
    }

    fn take_started(&self, id: &JobId) -> Option<Duration> {
        if let Some(mut l) = self.live.as_ref().and_then(|l| l.lock().ok()) {
            l.retain(|(j, _)| j != id);
        }
        let mut s = self.started.lock().ok()?;
        let pos = s.iter().position(|(j, _)| j == id)?;
        Some(s.remove(pos).1.elapsed())
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
        match self.output {
            Output::Human => self.human(event),
            Output::Jsonl => {
                if let Ok(line) = serde_json::to_string(event) {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "{line}");
                    let _ = out.flush();
                }
            }
            Output::Json => {
                if let LifecycleEvent::RunFinished { run } = event
                    && let Ok(text) = serde_json::to_string_pretty(run)
                {
                    println!("{text}");
                }
            }
        }
    }

    fn warning(&self, message: &str) {
        self.clear_live_line();
        let _ = writeln!(std::io::stderr(), "warning: {}", terminal(message));
    }
}

//! The delete that runs on every path out of a job.
//!
//! Deferred (see [`pikaci_core::engine::deferred`]): the engine records the
//! job's result, then runs [`DeleteLater`] while the next jobs start, and
//! waits for it before the run ends. The exit-cleanup watcher stays armed
//! until the delete has run, so a pikaci killed mid-delete still has its
//! instance deleted. When the job's future, or the deferred delete, is
//! dropped unrun (cancel from outside, a panic unwinding through it, a
//! caller that ignores the deferred work), `Drop` hands whatever is left to
//! [`CommandRunner::spawn_detached`], which starts the commands as processes
//! that finish even if pikaci exits right after.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use pikaci_core::process::exit_cleanup::ArmedCleanup;
use pikaci_core::{
    Clock,
    engine::{DeferredCleanup, DeferredReport},
    process::LogSink,
};

use crate::command::IncusCommand;
use crate::plan::Phase;
use crate::runner::CommandRunner;

use super::recorder::Recorder;

/// A finished job's instance delete (and artifacts removal), run after the
/// job's result is recorded; disarms the exit-cleanup watcher once done.
pub(crate) struct DeleteLater {
    pub(crate) guard: CleanupGuard,
    pub(crate) armed: Option<ArmedCleanup>,
    pub(crate) limit: Duration,
}

impl DeferredCleanup for DeleteLater {
    fn run<'a>(
        self: Box<Self>,
        host_log: &'a mut dyn LogSink,
        clock: &'a dyn Clock,
    ) -> BoxFuture<'a, DeferredReport> {
        Box::pin(async move {
            let Self {
                mut guard,
                armed,
                limit,
            } = *self;
            let mut rec = Recorder::new(host_log, clock);
            rec.begin(Phase::DeleteInstance);
            let failures = guard.run(&mut rec, limit).await;
            rec.end();
            // Cleaned up (or retrying in the background): the watcher has
            // nothing left to do.
            if let Some(armed) = armed {
                armed.disarm();
            }
            let failure = (!failures.is_empty()).then(|| failures.join("; "));
            if let Some(f) = &failure {
                rec.line(&format!("cleanup failed: {f}"));
            }
            DeferredReport {
                phases: rec.into_phases(),
                failure,
            }
        })
    }
}

/// Commands that must run before the job is over, in order.
pub(crate) struct CleanupGuard {
    runner: Arc<dyn CommandRunner>,
    pending: VecDeque<IncusCommand>,
}

impl CleanupGuard {
    pub(crate) fn new(
        runner: Arc<dyn CommandRunner>,
        commands: impl IntoIterator<Item = IncusCommand>,
    ) -> Self {
        Self {
            runner,
            pending: commands.into_iter().collect(),
        }
    }

    /// Runs the commands, logging each; returns the failures as text. A
    /// command leaves the queue only once it has finished.
    pub(crate) async fn run(&mut self, rec: &mut Recorder<'_>, limit: Duration) -> Vec<String> {
        let mut failures = Vec::new();
        while let Some(cmd) = self.pending.front().cloned() {
            rec.command(&cmd);
            let Ok(ran) = tokio::time::timeout(limit, self.runner.run(&cmd)).await else {
                // Left in the queue: `Drop` starts it again, detached.
                let message = format!(
                    "`{}` did not finish within {}s",
                    cmd.display(),
                    limit.as_secs()
                );
                rec.line(&format!("  -> {message}; retrying it in the background"));
                failures.push(message);
                return failures;
            };
            match ran {
                Ok(out) => {
                    rec.output(&out);
                    // An instance that is already gone (init never created
                    // it) is what the delete wants anyway.
                    let gone = out.summary().to_lowercase().contains("instance not found");
                    if !out.success() && !gone {
                        failures.push(format!(
                            "`{}` {}: {}",
                            cmd.display(),
                            out.status_text(),
                            out.summary()
                        ));
                    }
                }
                Err(e) => {
                    rec.line(&format!("  -> {e}"));
                    failures.push(format!("`{}`: {e}", cmd.display()));
                }
            }
            self.pending.pop_front();
        }
        failures
    }
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        for cmd in self.pending.drain(..) {
            // Nothing can be reported from a drop; the command still runs.
            let _ = self.runner.spawn_detached(&cmd);
        }
    }
}

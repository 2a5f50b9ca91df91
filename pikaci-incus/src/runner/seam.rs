//! The seam itself: [`CommandRunner`], and what a command leaves behind
//! ([`CommandOutput`], [`StreamOutput`]) with the texts failure messages quote.

use std::time::Duration;

use futures::future::BoxFuture;
use pikaci_core::cgroup::Cgroup;
use pikaci_core::process::LogSink;
use tokio_util::sync::CancellationToken;

use crate::command::IncusCommand;
use crate::error::IncusError;

/// Longest piece of a command's output quoted in messages.
const MAX_QUOTED_OUTPUT: usize = 4000;

/// A finished command's exit and captured output.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandOutput {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Captured stdout.
    pub stdout: Vec<u8>,
    /// Captured stderr.
    pub stderr: Vec<u8>,
}

impl CommandOutput {
    /// Whether it exited 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// `exit code N` or `killed by a signal`.
    pub fn status_text(&self) -> String {
        status_text(self.code)
    }

    /// Stderr then stdout, lossily decoded, trimmed and cut to a few KiB:
    /// what goes into failure messages.
    pub fn summary(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.stderr).trim().to_owned();
        let out = String::from_utf8_lossy(&self.stdout);
        if !out.trim().is_empty() {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(out.trim());
        }
        cut(text)
    }

    /// What a failure message quotes: the `Error: ...` lines of stderr when
    /// there are any (the client also prints notes and progress), else all
    /// of stderr, else stdout; trimmed and cut.
    pub fn error_text(&self) -> String {
        error_text(&self.stderr, &self.stdout)
    }
}

fn error_text(stderr: &[u8], stdout: &[u8]) -> String {
    let err = String::from_utf8_lossy(stderr);
    let errors: Vec<&str> = err
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("Error:"))
        .collect();
    let text = if !errors.is_empty() {
        errors.join("\n")
    } else if !err.trim().is_empty() {
        err.trim().to_owned()
    } else {
        String::from_utf8_lossy(stdout).trim().to_owned()
    };
    cut(text)
}

/// How a streamed command ended; its stdout went to the sink.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamOutput {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Captured stderr (Incus's own errors for `incus exec`).
    pub stderr: Vec<u8>,
    /// How many bytes of stdout reached the sink.
    pub streamed: u64,
}

impl StreamOutput {
    /// `exit code N` or `killed by a signal`.
    pub fn status_text(&self) -> String {
        status_text(self.code)
    }

    /// The `Error: ...` lines of stderr, or all of it (see
    /// [`CommandOutput::error_text`]).
    pub fn error_text(&self) -> String {
        error_text(&self.stderr, &[])
    }
}

fn status_text(code: Option<i32>) -> String {
    match code {
        Some(c) => format!("exit code {c}"),
        None => "killed by a signal".into(),
    }
}

fn cut(mut text: String) -> String {
    if text.len() > MAX_QUOTED_OUTPUT {
        let mut end = MAX_QUOTED_OUTPUT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str(" [...]");
    }
    text
}

/// Runs commands. Implementations must kill a command whose future is dropped.
pub trait CommandRunner: Send + Sync + 'static {
    /// Runs `cmd` to completion, capturing stdout and stderr.
    fn run<'a>(&'a self, cmd: &'a IncusCommand)
    -> BoxFuture<'a, Result<CommandOutput, IncusError>>;

    /// Runs `cmd` to completion, writing its stdout into `sink` as it comes
    /// and capturing stderr.
    fn stream<'a>(
        &'a self,
        cmd: &'a IncusCommand,
        sink: &'a mut dyn LogSink,
    ) -> BoxFuture<'a, Result<StreamOutput, IncusError>>;

    /// [`CommandRunner::stream`], with the command's process moved into
    /// `cgroup` (the job's, when it has one) once it starts, and when `stop`
    /// fires before `cmd` ends, asks it to stop and gives it `grace` to end
    /// with its output drained.
    /// The process runner sends SIGTERM, which `incus exec` passes on to the
    /// command in the instance, and SIGKILL after `grace`; this default drops
    /// the command at once, as a dropped future does.
    fn stream_stoppable<'a>(
        &'a self,
        cmd: &'a IncusCommand,
        sink: &'a mut dyn LogSink,
        stop: &'a CancellationToken,
        grace: Duration,
        cgroup: Option<&'a Cgroup>,
    ) -> BoxFuture<'a, Result<StreamOutput, IncusError>> {
        let _ = (grace, cgroup);
        Box::pin(async move {
            tokio::select! {
                biased;
                () = stop.cancelled() => Ok(StreamOutput {
                    code: None,
                    stderr: Vec::new(),
                    streamed: 0,
                }),
                r = self.stream(cmd, sink) => r,
            }
        })
    }

    /// Starts `cmd` and lets it finish on its own, even if this process exits
    /// first. Used from `Drop` to delete an instance when the job's future is
    /// dropped (cancel, panic), where nothing can be awaited.
    fn spawn_detached(&self, cmd: &IncusCommand) -> Result<(), IncusError>;
}

//! [`RecordingRunner`]: a scripted [`CommandRunner`] that records every call.
//! Replies come from a closure over the command, so a test says "`init`
//! fails with this stderr" or "the launch never ends" in one place.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use pikaci_core::process::LogSink;

use super::seam::{CommandOutput, CommandRunner, StreamOutput};
use crate::command::IncusCommand;
use crate::error::IncusError;

/// How a command was run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// [`CommandRunner::run`].
    Run,
    /// [`CommandRunner::stream`].
    Stream,
    /// [`CommandRunner::spawn_detached`].
    Detached,
}

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    /// How.
    pub kind: CallKind,
    /// What.
    pub command: IncusCommand,
}

impl RecordedCall {
    /// The `incus` subcommand words before `--project` (`["config", "device",
    /// "add"]`), or the program for host commands.
    pub fn subcommand(&self) -> String {
        subcommand(&self.command)
    }
}

/// The subcommand of an unwrapped `incus ... --project` command, joined by
/// spaces; the program name for anything else.
fn subcommand(cmd: &IncusCommand) -> String {
    match cmd.args.iter().position(|a| a == "--project") {
        Some(i) => cmd.args[..i].join(" "),
        None => cmd.program.clone(),
    }
}

/// What a scripted command does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FakeReply {
    /// Exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Printed on stdout (streamed to the sink for `stream`).
    pub stdout: Vec<u8>,
    /// Printed on stderr.
    pub stderr: Vec<u8>,
    /// Time it takes (tokio time, so paused tests do not wait).
    pub delay: Duration,
    /// Never finishes (after printing its stdout).
    pub hang: bool,
    /// Panics instead of replying.
    pub panic: bool,
}

impl FakeReply {
    /// Exit 0, no output.
    pub fn ok() -> Self {
        Self {
            code: Some(0),
            ..Self::default()
        }
    }

    /// Exit 0 with this stdout.
    pub fn stdout(text: impl Into<Vec<u8>>) -> Self {
        Self {
            stdout: text.into(),
            ..Self::ok()
        }
    }

    /// Exit `code` with this stderr.
    pub fn fail(code: i32, stderr: impl Into<Vec<u8>>) -> Self {
        Self {
            code: Some(code),
            stderr: stderr.into(),
            ..Self::default()
        }
    }

    /// Never finishes.
    pub fn hang() -> Self {
        Self {
            hang: true,
            ..Self::ok()
        }
    }

    /// Takes `delay` before replying.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Handler = dyn Fn(&IncusCommand) -> FakeReply + Send + Sync;

/// A fake runner: replies from a closure, records every call.
#[derive(Clone)]
pub struct RecordingRunner {
    handler: Arc<Handler>,
    calls: Arc<Mutex<Vec<RecordedCall>>>,
}

impl std::fmt::Debug for RecordingRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingRunner")
            .field("calls", &self.calls())
            .finish_non_exhaustive()
    }
}

impl RecordingRunner {
    /// A runner whose replies come from `handler`.
    pub fn new(handler: impl Fn(&IncusCommand) -> FakeReply + Send + Sync + 'static) -> Self {
        Self {
            handler: Arc::new(handler),
            calls: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.calls.lock().expect("call log lock").clone()
    }

    fn record(&self, kind: CallKind, cmd: &IncusCommand) -> FakeReply {
        self.calls
            .lock()
            .expect("call log lock")
            .push(RecordedCall {
                kind,
                command: cmd.clone(),
            });
        let reply = (self.handler)(cmd);
        assert!(!reply.panic, "scripted panic running `{}`", cmd.display());
        reply
    }
}

impl CommandRunner for RecordingRunner {
    fn run<'a>(
        &'a self,
        cmd: &'a IncusCommand,
    ) -> BoxFuture<'a, Result<CommandOutput, IncusError>> {
        let reply = self.record(CallKind::Run, cmd);
        Box::pin(async move {
            tokio::time::sleep(reply.delay).await;
            if reply.hang {
                std::future::pending::<()>().await;
            }
            Ok(CommandOutput {
                code: reply.code,
                stdout: reply.stdout,
                stderr: reply.stderr,
            })
        })
    }

    fn stream<'a>(
        &'a self,
        cmd: &'a IncusCommand,
        sink: &'a mut dyn LogSink,
    ) -> BoxFuture<'a, Result<StreamOutput, IncusError>> {
        let reply = self.record(CallKind::Stream, cmd);
        Box::pin(async move {
            sink.write_all(&reply.stdout)
                .map_err(|source| IncusError::Io {
                    program: cmd.program.clone(),
                    source,
                })?;
            tokio::time::sleep(reply.delay).await;
            if reply.hang {
                std::future::pending::<()>().await;
            }
            Ok(StreamOutput {
                code: reply.code,
                stderr: reply.stderr,
                streamed: reply.stdout.len() as u64,
            })
        })
    }

    fn spawn_detached(&self, cmd: &IncusCommand) -> Result<(), IncusError> {
        // Recorded only: nothing to run in a fake. The handler still sees it.
        let _ = self.record(CallKind::Detached, cmd);
        Ok(())
    }
}

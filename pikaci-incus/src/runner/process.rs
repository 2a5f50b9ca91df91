//! The real [`CommandRunner`]: tokio child processes.

use std::process::Stdio;

use std::time::Duration;

use futures::future::BoxFuture;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pikaci_core::cgroup::Cgroup;
use pikaci_core::process::LogSink;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::seam::{CommandOutput, CommandRunner, StreamOutput};
use crate::command::{IncusCommand, Stdin};
use crate::error::IncusError;

/// Runs commands as local child processes (`ssh` and `sudo` are just programs
/// to it). A dropped future kills its child (and the producer piped into it).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessRunner;

fn command(cmd: &IncusCommand) -> Command {
    let mut c = Command::new(&cmd.program);
    c.args(&cmd.args)
        .envs(&cmd.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

fn spawn_error(cmd: &IncusCommand, source: std::io::Error) -> IncusError {
    IncusError::Spawn {
        program: cmd.program.clone(),
        source,
    }
}

fn io_error(cmd: &IncusCommand, source: std::io::Error) -> IncusError {
    IncusError::Io {
        program: cmd.program.clone(),
        source,
    }
}

/// A command piped into another: its process and its stderr, read aside.
struct Producer {
    child: Child,
    cmd: IncusCommand,
    stderr: JoinHandle<Vec<u8>>,
}

/// A started command, with whatever feeds its standard input.
struct Spawned {
    child: Child,
    producer: Option<Producer>,
}

fn spawn(cmd: &IncusCommand) -> Result<Spawned, IncusError> {
    let mut c = command(cmd);
    match &cmd.stdin {
        None => Ok(Spawned {
            child: c.spawn().map_err(|e| spawn_error(cmd, e))?,
            producer: None,
        }),
        Some(Stdin::Text(text)) => {
            c.stdin(Stdio::piped());
            let mut child = c.spawn().map_err(|e| spawn_error(cmd, e))?;
            let mut input = child.stdin.take().expect("stdin is piped");
            let text = text.clone().into_bytes();
            // A command that exits without reading closes the pipe; that is
            // its answer, not ours to report.
            tokio::spawn(async move {
                let _ = input.write_all(&text).await;
            });
            Ok(Spawned {
                child,
                producer: None,
            })
        }
        Some(Stdin::Pipe(from)) => {
            let mut producer = command(from).spawn().map_err(|e| spawn_error(from, e))?;
            let out = producer.stdout.take().expect("stdout is piped");
            let mut err = producer.stderr.take().expect("stderr is piped");
            let stderr = tokio::spawn(async move {
                let mut buf = Vec::new();
                let _ = err.read_to_end(&mut buf).await;
                buf
            });
            let out: Stdio = out.try_into().map_err(|e| io_error(from, e))?;
            c.stdin(out);
            let child = c.spawn().map_err(|e| spawn_error(cmd, e))?;
            Ok(Spawned {
                child,
                producer: Some(Producer {
                    child: producer,
                    cmd: (**from).clone(),
                    stderr,
                }),
            })
        }
    }
}

/// Waits for the producer, if any: a failing producer fails the command, and
/// its stderr is added to the command's.
async fn settle(
    producer: Option<Producer>,
    code: Option<i32>,
    stderr: &mut Vec<u8>,
) -> Result<Option<i32>, IncusError> {
    let Some(mut p) = producer else {
        return Ok(code);
    };
    let status = p.child.wait().await.map_err(|e| io_error(&p.cmd, e))?;
    let err = p.stderr.await.unwrap_or_default();
    if !err.is_empty() {
        if !stderr.is_empty() && !stderr.ends_with(b"\n") {
            stderr.push(b'\n');
        }
        stderr.extend_from_slice(format!("{}: ", p.cmd.program).as_bytes());
        stderr.extend_from_slice(&err);
    }
    Ok(match (code, status.success()) {
        (Some(0), false) => Some(status.code().unwrap_or(1)),
        _ => code,
    })
}

impl CommandRunner for ProcessRunner {
    fn run<'a>(
        &'a self,
        cmd: &'a IncusCommand,
    ) -> BoxFuture<'a, Result<CommandOutput, IncusError>> {
        Box::pin(async move {
            let Spawned { child, producer } = spawn(cmd)?;
            let out = child
                .wait_with_output()
                .await
                .map_err(|e| io_error(cmd, e))?;
            let mut stderr = out.stderr;
            let code = settle(producer, out.status.code(), &mut stderr).await?;
            Ok(CommandOutput {
                code,
                stdout: out.stdout,
                stderr,
            })
        })
    }

    fn stream<'a>(
        &'a self,
        cmd: &'a IncusCommand,
        sink: &'a mut dyn LogSink,
    ) -> BoxFuture<'a, Result<StreamOutput, IncusError>> {
        Box::pin(async move {
            let never = CancellationToken::new();
            self.stream_stoppable(cmd, sink, &never, Duration::ZERO, None)
                .await
        })
    }

    fn stream_stoppable<'a>(
        &'a self,
        cmd: &'a IncusCommand,
        sink: &'a mut dyn LogSink,
        stop: &'a CancellationToken,
        grace: Duration,
        cgroup: Option<&'a Cgroup>,
    ) -> BoxFuture<'a, Result<StreamOutput, IncusError>> {
        Box::pin(async move {
            let Spawned {
                mut child,
                producer,
            } = spawn(cmd)?;
            if let (Some(group), Some(id)) = (cgroup, child.id()) {
                // The client is a single process (its threads move with it);
                // it may have run a moment outside, starting nothing.
                let _ = group.add(id);
            }
            let pid = child
                .id()
                .and_then(|p| i32::try_from(p).ok())
                .map(Pid::from_raw);
            let mut stdout = child.stdout.take().expect("stdout is piped");
            let mut stderr = child.stderr.take().expect("stderr is piped");
            // A sink that fails (disk full) must not stop the reading: the
            // child would block on a full pipe. The output is drained and the
            // first write error reported once the child is done.
            let copy_out = async {
                let mut buf = vec![0u8; 64 * 1024];
                let mut streamed = 0u64;
                let mut write_error = None;
                loop {
                    let n = stdout.read(&mut buf).await?;
                    if n == 0 {
                        return Ok::<_, std::io::Error>((streamed, write_error));
                    }
                    if write_error.is_none() {
                        match sink.write_all(&buf[..n]).and_then(|()| sink.flush()) {
                            Ok(()) => streamed += n as u64,
                            Err(e) => write_error = Some(e),
                        }
                    }
                }
            };
            let read_err = async {
                let mut err = Vec::new();
                stderr.read_to_end(&mut err).await.map(|_| err)
            };
            let ended = async {
                let (streamed, err) = tokio::join!(copy_out, read_err);
                let status = child.wait().await;
                (streamed, err, status)
            };
            tokio::pin!(ended);
            let (streamed, err, status) = tokio::select! {
                biased;
                done = &mut ended => done,
                () = stop.cancelled() => {
                    // `incus exec` passes SIGTERM on to the command in the
                    // instance; its output keeps flowing while it stops.
                    if let Some(pid) = pid {
                        let _ = kill(pid, Signal::SIGTERM);
                    }
                    match tokio::time::timeout(grace, &mut ended).await {
                        Ok(done) => done,
                        Err(_) => {
                            if let Some(pid) = pid {
                                let _ = kill(pid, Signal::SIGKILL);
                            }
                            ended.await
                        }
                    }
                }
            };
            let (streamed, write_error) = streamed.map_err(|e| io_error(cmd, e))?;
            let mut stderr = err.map_err(|e| io_error(cmd, e))?;
            let status = status.map_err(|e| io_error(cmd, e))?;
            let code = settle(producer, status.code(), &mut stderr).await?;
            if let Some(e) = write_error {
                return Err(io_error(cmd, e));
            }
            Ok(StreamOutput {
                code,
                stderr,
                streamed,
            })
        })
    }

    fn spawn_detached(&self, cmd: &IncusCommand) -> Result<(), IncusError> {
        let mut child = std::process::Command::new(&cmd.program)
            .args(&cmd.args)
            .envs(&cmd.env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| spawn_error(cmd, e))?;
        // Reap it if we live long enough; if we exit first it keeps running.
        std::thread::spawn(move || child.wait());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pikaci_core::process::VecSink;

    #[tokio::test]
    async fn run_captures_both_streams_and_the_code() {
        let cmd = IncusCommand::new("sh", ["-c", "echo out; echo err >&2; exit 3"]);
        let out = ProcessRunner.run(&cmd).await.unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.summary(), "err\nout");
    }

    #[tokio::test]
    async fn a_stopped_stream_gets_sigterm_first_and_sigkill_after_the_grace() {
        let run = |script: &'static str, grace: Duration| async move {
            let cmd = IncusCommand::new("bash", ["-c", script]);
            let stop = CancellationToken::new();
            let mut sink = VecSink::default();
            let seen = sink.0.clone();
            let stopper = {
                let (stop, seen) = (stop.clone(), seen.clone());
                tokio::spawn(async move {
                    while !String::from_utf8_lossy(&seen.lock().unwrap()).contains("ready") {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    stop.cancel();
                })
            };
            let began = std::time::Instant::now();
            let out = ProcessRunner
                .stream_stoppable(&cmd, &mut sink, &stop, grace, None)
                .await
                .unwrap();
            stopper.await.unwrap();
            let text = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
            (out, text, began.elapsed())
        };
        // A trap: it runs, its output is kept, its code is the command's.
        let (out, text, _) = run(
            "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.05; done",
            Duration::from_secs(30),
        )
        .await;
        assert_eq!(out.code, Some(3));
        assert!(text.contains("got-term"), "{text}");
        // A command that ignores TERM is killed once the grace is over.
        let (out, text, took) = run(
            "trap '' TERM; echo ready; while :; do sleep 0.05; done",
            Duration::from_millis(300),
        )
        .await;
        assert_eq!(out.code, None, "killed: {text}");
        assert!(took < Duration::from_secs(10), "{took:?}");
    }

    #[tokio::test]
    async fn stream_writes_stdout_to_the_sink() {
        let mut cmd = IncusCommand::new(
            "sh",
            ["-c", "printf 'a\\nb\\n'; echo oops >&2; printf \"$X\""],
        );
        cmd.env.insert("X".into(), "grüße".into());
        let mut sink = VecSink::default();
        let out = ProcessRunner.stream(&cmd, &mut sink).await.unwrap();
        assert_eq!(out.code, Some(0));
        assert_eq!(out.error_text(), "oops");
        let got = sink.0.lock().unwrap().clone();
        assert_eq!(String::from_utf8(got).unwrap(), "a\nb\ngrüße");
        assert_eq!(out.streamed, "a\nb\ngrüße".len() as u64);
    }

    #[tokio::test]
    async fn text_input_reaches_the_command() {
        let cmd = IncusCommand::new("sh", ["-c", "tr a-z A-Z"])
            .with_stdin(Stdin::Text("devices: {}\n".into()));
        let out = ProcessRunner.run(&cmd).await.unwrap();
        assert_eq!(out.stdout, b"DEVICES: {}\n");
    }

    #[tokio::test]
    async fn a_piped_producer_feeds_the_command_and_its_failure_counts() {
        let producer = IncusCommand::new("sh", ["-c", "printf 'one\\ntwo\\n'"]);
        let cmd = IncusCommand::new("wc", ["-l"]).with_stdin(Stdin::Pipe(Box::new(producer)));
        let out = ProcessRunner.run(&cmd).await.unwrap();
        assert_eq!(
            (out.code, String::from_utf8_lossy(&out.stdout).trim()),
            (Some(0), "2")
        );

        let failing = IncusCommand::new("sh", ["-c", "echo half; echo 'tar: gone' >&2; exit 2"]);
        let cmd = IncusCommand::new("cat", Vec::<String>::new())
            .with_stdin(Stdin::Pipe(Box::new(failing)));
        let mut sink = VecSink::default();
        let out = ProcessRunner.stream(&cmd, &mut sink).await.unwrap();
        assert_eq!(
            out.code,
            Some(2),
            "the consumer passed, the producer did not"
        );
        assert_eq!(out.error_text(), "sh: tar: gone");
        assert_eq!(sink.0.lock().unwrap().as_slice(), b"half\n");
    }

    #[tokio::test]
    async fn a_missing_program_is_a_spawn_error() {
        let cmd = IncusCommand::new("/nonexistent/incus", ["list"]);
        let err = ProcessRunner.run(&cmd).await.unwrap_err();
        assert!(matches!(err, IncusError::Spawn { .. }), "{err:?}");
    }

    /// A sink that refuses every write.
    struct FullDisk;

    impl std::io::Write for FullDisk {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("no space left"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl LogSink for FullDisk {}

    #[tokio::test]
    async fn a_failing_sink_does_not_block_a_chatty_child() {
        // 1 MiB is far more than a pipe buffer: without draining, the child blocks.
        let cmd = IncusCommand::new("sh", ["-c", "head -c 1048576 /dev/zero; echo done >&2"]);
        let err = ProcessRunner.stream(&cmd, &mut FullDisk).await.unwrap_err();
        assert!(matches!(err, IncusError::Io { .. }), "{err:?}");
    }
}

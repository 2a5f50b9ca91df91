//! The real [`CommandRunner`]: tokio child processes.

use std::process::Stdio;

use futures::future::BoxFuture;
use pikaci_core::engine::LogSink;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use super::{CommandOutput, CommandRunner, StreamOutput};
use crate::command::IncusCommand;
use crate::error::IncusError;

/// Runs commands as local child processes (`ssh` and `sudo` are just programs
/// to it). A dropped future kills its child.
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

impl CommandRunner for ProcessRunner {
    fn run<'a>(
        &'a self,
        cmd: &'a IncusCommand,
    ) -> BoxFuture<'a, Result<CommandOutput, IncusError>> {
        Box::pin(async move {
            let child = command(cmd).spawn().map_err(|e| spawn_error(cmd, e))?;
            let out = child
                .wait_with_output()
                .await
                .map_err(|e| io_error(cmd, e))?;
            Ok(CommandOutput {
                code: out.status.code(),
                stdout: out.stdout,
                stderr: out.stderr,
            })
        })
    }

    fn stream<'a>(
        &'a self,
        cmd: &'a IncusCommand,
        sink: &'a mut dyn LogSink,
    ) -> BoxFuture<'a, Result<StreamOutput, IncusError>> {
        Box::pin(async move {
            let mut child = command(cmd).spawn().map_err(|e| spawn_error(cmd, e))?;
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
            let (streamed, err) = tokio::join!(copy_out, read_err);
            let (streamed, write_error) = streamed.map_err(|e| io_error(cmd, e))?;
            let stderr = err.map_err(|e| io_error(cmd, e))?;
            let status = child.wait().await.map_err(|e| io_error(cmd, e))?;
            if let Some(e) = write_error {
                return Err(io_error(cmd, e));
            }
            Ok(StreamOutput {
                code: status.code(),
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
    use pikaci_core::engine::VecSink;

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
    async fn stream_writes_stdout_to_the_sink() {
        let mut cmd = IncusCommand::new(
            "sh",
            ["-c", "printf 'a\\nb\\n'; echo oops >&2; printf \"$X\""],
        );
        cmd.env.insert("X".into(), "grüße".into());
        let mut sink = VecSink::default();
        let out = ProcessRunner.stream(&cmd, &mut sink).await.unwrap();
        assert_eq!(out.code, Some(0));
        assert_eq!(out.stderr_text(), "oops");
        let got = sink.0.lock().unwrap().clone();
        assert_eq!(String::from_utf8(got).unwrap(), "a\nb\ngrüße");
        assert_eq!(out.streamed, "a\nb\ngrüße".len() as u64);
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

//! Running a child in its own process group, and stopping the whole group.

use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Child;
use tokio_util::sync::CancellationToken;

use crate::status::FailureKind;

/// How a supervised child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildEnd {
    /// It exited by itself with this code (`None`: killed by a signal).
    Exited(Option<i32>),
    /// It ran past its timeout and was stopped.
    TimedOut,
    /// The run was cancelled and it was stopped.
    Cancelled,
}

impl ChildEnd {
    /// Why a child running the code under test failed when it ended this
    /// way (`None`: it exited with 0). A non-zero exit and a death by a
    /// signal nobody here sent are the code's own failure; a timeout and a
    /// cancel are what they say. (A child that is itself `pikaci` reports
    /// through its exit codes instead: see
    /// [`crate::contract::pikaci_failure`].)
    pub fn failure(self) -> Option<FailureKind> {
        match self {
            Self::Exited(Some(0)) => None,
            Self::Exited(_) => Some(FailureKind::TestFailure),
            Self::TimedOut => Some(FailureKind::Timeout),
            Self::Cancelled => Some(FailureKind::Cancelled),
        }
    }

    /// The exit code, when the child exited by itself.
    pub fn exit_code(self) -> Option<i32> {
        match self {
            Self::Exited(code) => code,
            Self::TimedOut | Self::Cancelled => None,
        }
    }
}

/// How long a job supervisor may take, after its grace, to kill what is
/// left of its job and exit, before its whole group gets SIGKILL.
pub const SUPERVISOR_MARGIN: Duration = Duration::from_secs(2);

/// Ends every process of a job at once (its cgroup's `cgroup.kill`).
pub type KillAll = std::sync::Arc<dyn Fn() + Send + Sync>;

/// How a supervised child is told to stop, on timeout or cancel.
pub enum Stop {
    /// SIGTERM to its process group, then SIGKILL after the grace.
    GroupSignal,
    /// Close this pipe, the child's stdin: the child is a [job
    /// supervisor](super::supervisor), which stops its job within the grace;
    /// if it has not ended after the grace and [`SUPERVISOR_MARGIN`] its
    /// group gets SIGKILL.
    ClosePipe(std::io::PipeWriter),
    /// Close this pipe, as [`Stop::ClosePipe`]; if the child has not ended
    /// after the grace, call this (which ends every process of the job,
    /// the supervisor included, whatever state it is in), then SIGKILL its
    /// group. No margin: nothing of the job outlives the grace.
    ClosePipeThenKill(std::io::PipeWriter, KillAll),
}

impl std::fmt::Debug for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::GroupSignal => f.write_str("GroupSignal"),
            Self::ClosePipe(p) => f.debug_tuple("ClosePipe").field(p).finish(),
            Self::ClosePipeThenKill(p, _) => f.debug_tuple("ClosePipeThenKill").field(p).finish(),
        }
    }
}

/// Waits for `child` (the leader of its own process group) until it exits,
/// `timeout` passes or `cancel` fires. On timeout or cancel the group gets
/// SIGTERM, then SIGKILL after `grace`. In every case the group is sent
/// SIGKILL at the end, so no process of the job (a backgrounded grandchild
/// included) outlives it.
pub async fn supervise(
    child: &mut Child,
    timeout: Duration,
    grace: Duration,
    cancel: &CancellationToken,
) -> std::io::Result<ChildEnd> {
    supervise_with(child, timeout, grace, cancel, Stop::GroupSignal).await
}

/// [`supervise`], telling the child to stop as `stop` says.
pub async fn supervise_with(
    child: &mut Child,
    timeout: Duration,
    grace: Duration,
    cancel: &CancellationToken,
    stop: Stop,
) -> std::io::Result<ChildEnd> {
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    let end = tokio::select! {
        status = child.wait() => ChildEnd::Exited(status?.code()),
        () = tokio::time::sleep(timeout) => ChildEnd::TimedOut,
        () = cancel.cancelled() => ChildEnd::Cancelled,
    };
    if let Some(pgid) = pgid {
        if !matches!(end, ChildEnd::Exited(_)) {
            let (patience, kill_all) = match stop {
                Stop::GroupSignal => {
                    let _ = killpg(pgid, Signal::SIGTERM);
                    (grace, None)
                }
                Stop::ClosePipe(pipe) => {
                    drop(pipe);
                    (grace + SUPERVISOR_MARGIN, None)
                }
                Stop::ClosePipeThenKill(pipe, kill_all) => {
                    drop(pipe);
                    (grace, Some(kill_all))
                }
            };
            if tokio::time::timeout(patience, child.wait()).await.is_err() {
                if let Some(kill_all) = kill_all {
                    kill_all();
                }
                let _ = killpg(pgid, Signal::SIGKILL);
            }
        }
        // Whatever the leader did, take out the rest of its group.
        let _ = killpg(pgid, Signal::SIGKILL);
    }
    if !matches!(end, ChildEnd::Exited(_)) {
        child.wait().await?;
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bash(script: &str) -> Child {
        tokio::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .process_group(0)
            .stdin(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Gone, or a zombie of init waiting to be reaped.
    fn gone(pid: u32) -> bool {
        crate::proc_stat::ProcStat::read(pid).map_or(true, |s| s.is_dead())
    }

    #[test]
    fn how_a_child_ended_says_why_it_failed() {
        let cases = [
            (ChildEnd::Exited(Some(0)), None, Some(0)),
            (
                ChildEnd::Exited(Some(3)),
                Some(FailureKind::TestFailure),
                Some(3),
            ),
            (ChildEnd::Exited(None), Some(FailureKind::TestFailure), None),
            (ChildEnd::TimedOut, Some(FailureKind::Timeout), None),
            (ChildEnd::Cancelled, Some(FailureKind::Cancelled), None),
        ];
        for (end, failure, code) in cases {
            assert_eq!((end.failure(), end.exit_code()), (failure, code), "{end:?}");
        }
    }

    #[tokio::test]
    async fn exit_codes_pass_through() {
        let mut c = bash("exit 7");
        let end = supervise(
            &mut c,
            Duration::from_secs(30),
            Duration::from_secs(1),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(end, ChildEnd::Exited(Some(7)));
    }

    #[tokio::test]
    async fn timeout_kills_a_term_ignoring_grandchild_too() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!(
            "bash -c 'trap \"\" TERM; sleep 30' & echo $! > {}; trap '' TERM; wait",
            pidfile.display()
        );
        let mut c = bash(&script);
        // Wait until the grandchild has written its pid (bounded).
        for _ in 0..200 {
            if std::fs::read_to_string(&pidfile).is_ok_and(|s| s.ends_with('\n')) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let grandchild: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let end = supervise(
            &mut c,
            Duration::from_millis(200),
            Duration::from_millis(200),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
        assert_eq!(end, ChildEnd::TimedOut);
        // The grandchild is a zombie of init at worst; give the kernel a moment to reap.
        let mut left = true;
        for _ in 0..200 {
            if gone(grandchild) {
                left = false;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(!left, "grandchild {grandchild} survived");
    }

    #[tokio::test]
    async fn a_child_deaf_to_its_pipe_is_ended_by_the_kill_at_the_grace() {
        // `sleep` never reads its stdin: it stands for a stopped supervisor.
        let (reader, writer) = std::io::pipe().unwrap();
        let mut c = tokio::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .stdin(reader)
            .spawn()
            .unwrap();
        let called = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let kill_all: KillAll = {
            let called = called.clone();
            std::sync::Arc::new(move || called.store(true, std::sync::atomic::Ordering::SeqCst))
        };
        let end = supervise_with(
            &mut c,
            Duration::from_millis(100),
            Duration::from_millis(100),
            &CancellationToken::new(),
            Stop::ClosePipeThenKill(writer, kill_all),
        )
        .await
        .unwrap();
        assert_eq!(end, ChildEnd::TimedOut);
        assert!(called.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[tokio::test]
    async fn cancel_stops_the_group() {
        let mut c = bash("sleep 30");
        let cancel = CancellationToken::new();
        cancel.cancel();
        let end = supervise(
            &mut c,
            Duration::from_secs(30),
            Duration::from_secs(1),
            &cancel,
        )
        .await
        .unwrap();
        assert_eq!(end, ChildEnd::Cancelled);
    }
}

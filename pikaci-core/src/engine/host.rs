//! [`HostExecutor`]: runs a job's command with bash on this machine.

use std::fs::File;
use std::io::PipeReader;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;

use super::seams::{Executor, JobContext};
use crate::cgroup::Cgroup;
use crate::contract::JOB_KILL_GRACE;
use crate::process::JobCgroups;
use crate::process::LogCap;
use crate::process::job_cgroup;
use crate::process::supervisor::JobSupervisor;
use crate::process::{ChildEnd, Stop, supervise_with};
use crate::process::{CopyReport, copy_pipe_to_file, grow_pipe};
use crate::record::JobOutcome;
use crate::status::{ExecutorKind, FailureKind};

/// How long to wait for a job's last output once its process group is gone.
const OUTPUT_DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Runs `bash --noprofile --norc -c <command>` in the job's workspace, in its
/// own process group. The job's stdout and stderr go into `guest.log` as they
/// happen (spliced from a pipe, without a copy through user space, when the
/// log is a file); a log that stops taking output (full disk) never changes
/// the job's result. `host.log` gets pikaci's account.
///
/// With a [`JobSupervisor`] (the `pikaci` command sets one), the job runs
/// under it, so its processes die with pikaci even when pikaci itself is
/// killed with SIGKILL; without one, they are stopped only by pikaci.
#[derive(Debug, Clone)]
pub struct HostExecutor {
    kill_grace: Duration,
    bash: String,
    supervisor: Option<JobSupervisor>,
    cgroups: JobCgroups,
}

impl Default for HostExecutor {
    fn default() -> Self {
        Self {
            kill_grace: JOB_KILL_GRACE,
            bash: "bash".to_owned(),
            supervisor: None,
            cgroups: JobCgroups::Off,
        }
    }
}

impl HostExecutor {
    /// A host executor with the default grace period
    /// ([`JOB_KILL_GRACE`](crate::contract::JOB_KILL_GRACE)).
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how long a stopped job gets between SIGTERM and SIGKILL.
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// Runs each job under `supervisor`, so the job dies with pikaci.
    pub fn supervisor(mut self, supervisor: JobSupervisor) -> Self {
        self.supervisor = Some(supervisor);
        self
    }

    /// Runs each job (under its supervisor) in a cgroup of its own, as
    /// `cgroups` says: whatever the job leaves, whatever it does to its
    /// supervisor, is ended with the cgroup when the job is over.
    pub fn cgroups(mut self, cgroups: JobCgroups) -> Self {
        self.cgroups = cgroups;
        self
    }

    async fn run(&self, mut ctx: JobContext<'_>) -> JobOutcome {
        announce(&mut ctx);
        // Processes the cgroup's killer ended at the grace, if it had to.
        let killed_early = Arc::new(AtomicUsize::new(0));
        let started = match self.start(&mut ctx, &killed_early).await {
            Ok(started) => started,
            Err(e) => return spawn_failure(ctx.host_log, &e),
        };
        let _ = writeln!(ctx.host_log, "[pikaci] started pid {}", started.pid());
        let at = started.at;
        let (end, cgroup_end) = self.wait(started, &mut ctx).await;
        let early = killed_early.load(Ordering::Relaxed);
        let cgroup_note = job_cgroup::note(&cgroup_end.map(|r| r.map(|n| n + early)));
        let elapsed = at.elapsed();
        let _ = ctx.guest_log.flush();
        let outcome = outcome(end, cgroup_note, ctx.timeout);
        let _ = writeln!(
            ctx.host_log,
            "[pikaci] {} after {}",
            outcome.message.as_deref().unwrap_or("finished"),
            human_duration(elapsed),
        );
        outcome
    }

    /// Starts the job: its cgroup (under a supervisor), its command, the pipe
    /// its output goes into; the child is in its cgroup when this returns.
    async fn start(
        &self,
        ctx: &mut JobContext<'_>,
        killed_early: &Arc<AtomicUsize>,
    ) -> std::io::Result<Started> {
        // A cgroup needs the supervisor: it waits to be moved in.
        let (cgroup, said) = match &self.supervisor {
            Some(_) => self.cgroups.create(ctx.run_id, &ctx.job.id),
            None => (None, None),
        };
        if let Some(said) = said {
            let _ = writeln!(ctx.host_log, "[pikaci] {said}");
        }
        let (mut cmd, stop) = self.command(ctx, cgroup.as_ref(), killed_early)?;
        // The job writes into a pipe (stdout and stderr interleaved in the
        // order they happen); its output reaches the log without a copy
        // through user space when the log is a file (see `copy_pipe_to_file`).
        let (output, writer) = std::io::pipe()?;
        let writer2 = writer.try_clone()?;
        grow_pipe(&output);
        cmd.stdout(writer).stderr(writer2);
        let at = Instant::now();
        let mut child = cmd.spawn()?;
        // Our copies of the pipe's write end must close, or the copy never ends.
        drop(cmd);
        if let Some(group) = &cgroup
            && let Err(e) = group.add(child.id().unwrap_or(0))
        {
            let _ = child.start_kill();
            let _ = child.wait().await;
            let _ = job_cgroup::end(cgroup).await;
            return Err(std::io::Error::other(format!(
                "could not move it into its cgroup: {e}"
            )));
        }
        Ok(Started {
            child,
            output,
            stop,
            cgroup,
            at,
        })
    }

    /// The command that runs the job (under the supervisor when there is
    /// one), and how to stop it.
    fn command(
        &self,
        ctx: &mut JobContext<'_>,
        cgroup: Option<&Cgroup>,
        killed_early: &Arc<AtomicUsize>,
    ) -> std::io::Result<(tokio::process::Command, Stop)> {
        let job = ctx.job;
        let bash_args = ["--noprofile", "--norc", "-c", job.command.as_str()];
        // Under a supervisor, its stdin is the pipe whose closing stops the job.
        let (mut cmd, stop) = match &self.supervisor {
            Some(supervisor) => {
                let (control, stop) = std::io::pipe()?;
                let in_cgroup = cgroup.map(Cgroup::v2_path);
                let mut cmd =
                    supervisor.command_in(self.kill_grace, in_cgroup, &self.bash, bash_args);
                cmd.stdin(control);
                // With a cgroup, everything of the job is ended at the
                // grace, even under a supervisor the job has stopped.
                let stop = match cgroup {
                    Some(group) => {
                        Stop::ClosePipeThenKill(stop, Arc::new(group.killer(killed_early.clone())))
                    }
                    None => Stop::ClosePipe(stop),
                };
                (cmd, stop)
            }
            None => {
                let mut cmd = tokio::process::Command::new(&self.bash);
                cmd.args(bash_args)
                    .stdin(Stdio::null())
                    // A dropped run takes its job with it.
                    .kill_on_drop(true);
                (cmd, Stop::GroupSignal)
            }
        };
        cmd.current_dir(ctx.workspace)
            .envs(&job.env)
            .env("PIKACI_RUN_ID", ctx.run_id.as_str())
            .env("PIKACI_JOB_ID", job.id.as_str())
            .env("PIKACI_SOURCE_ROOT", ctx.source_root)
            .env("PIKACI_WORKSPACE", ctx.workspace)
            .process_group(0);
        Ok((cmd, stop))
    }

    /// Waits for the job to end (by itself, by its timeout or by a cancel)
    /// while its output goes into `guest.log`, then ends its cgroup.
    async fn wait(
        &self,
        started: Started,
        ctx: &mut JobContext<'_>,
    ) -> (std::io::Result<ChildEnd>, CgroupEnd) {
        let Started {
            mut child,
            output,
            stop,
            cgroup,
            ..
        } = started;
        match ctx.guest_log.as_file().and_then(|f| f.try_clone().ok()) {
            Some(file) => {
                let copy = spawn_copy(output, file, ctx);
                let end =
                    supervise_with(&mut child, ctx.timeout, self.kill_grace, &ctx.cancel, stop)
                        .await;
                // Before the last output is awaited: a daemon holding the pipe goes with it.
                let cgroup_end = job_cgroup::end(cgroup).await;
                take_copy_report(copy, ctx).await;
                (end, cgroup_end)
            }
            None => {
                let reader = {
                    let fd: std::os::fd::OwnedFd = output.into();
                    tokio::net::unix::pipe::Receiver::from_owned_fd(fd).ok()
                };
                let end = pump_and_supervise(
                    &mut child,
                    reader,
                    ctx.guest_log,
                    ctx.timeout,
                    self.kill_grace,
                    &ctx.cancel,
                    stop,
                )
                .await;
                (end, job_cgroup::end(cgroup).await)
            }
        }
    }
}

/// What [`job_cgroup::end`] says: how many processes were left, or why the
/// cgroup could not be emptied (`None`: the job had no cgroup).
type CgroupEnd = Option<Result<usize, String>>;

/// A job just started: its first process (the supervisor or bash), the
/// read end of its output pipe, how it is stopped, and its cgroup.
struct Started {
    child: tokio::process::Child,
    output: PipeReader,
    stop: Stop,
    cgroup: Option<Cgroup>,
    /// Just before the spawn: what the job's duration is counted from.
    at: Instant,
}

impl Started {
    fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }
}

/// pikaci's first lines in `host.log`: what runs, where, for how long.
fn announce(ctx: &mut JobContext<'_>) {
    let _ = writeln!(
        ctx.host_log,
        "[pikaci] host executor: bash --noprofile --norc -c <command> in {}\n[pikaci] command: {}\n[pikaci] timeout: {}s",
        ctx.workspace,
        ctx.job.command,
        ctx.timeout.as_secs()
    );
}

/// Starts copying the job's output into the log file, on a thread of its
/// own that works on the log's cap and hands it back in its report.
fn spawn_copy(
    output: PipeReader,
    file: File,
    ctx: &mut JobContext<'_>,
) -> oneshot::Receiver<CopyReport> {
    let cap = ctx
        .guest_log
        .cap()
        .map_or_else(|| LogCap::new(u64::MAX), |c| c.clone());
    let arrivals = ctx.guest_log.arrivals();
    // A plain thread, not the runtime's blocking pool: an escaped
    // daemon holding the pipe must not keep pikaci from exiting.
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(copy_pipe_to_file(output, file, cap, arrivals));
    });
    rx
}

/// Waits a bounded time for the copy's last output, gives the log its cap
/// back, and says in `host.log` when the log failed or the wait was cut.
async fn take_copy_report(copy: oneshot::Receiver<CopyReport>, ctx: &mut JobContext<'_>) {
    match tokio::time::timeout(OUTPUT_DRAIN_LIMIT, copy).await {
        Ok(Ok(report)) => {
            if let Some(e) = &report.error {
                let _ = writeln!(
                    ctx.host_log,
                    "[pikaci] guest.log stopped taking output ({e}); {} bytes written, {} bytes dropped",
                    report.cap.written(),
                    report.cap.dropped()
                );
            }
            if let Some(cap) = ctx.guest_log.cap() {
                *cap = report.cap;
            }
        }
        _ => {
            let _ = writeln!(
                ctx.host_log,
                "[pikaci] a process outside the job's group still holds its output open; stopped waiting for it"
            );
        }
    }
}

/// The job's result from how it ended, with what the end of its cgroup
/// adds (`cgroup_note`).
fn outcome(
    end: std::io::Result<ChildEnd>,
    cgroup_note: Option<String>,
    timeout: Duration,
) -> JobOutcome {
    let end = match end {
        Err(e) => {
            return JobOutcome::failed(
                FailureKind::Infrastructure,
                None,
                format!("waiting for the job failed: {e}"),
            );
        }
        Ok(end) => end,
    };
    let stopped = cgroup_note
        .clone()
        .unwrap_or_else(|| "the job's processes were stopped".to_owned());
    let mut message = match end {
        ChildEnd::Exited(Some(code)) => format!("command exited with {code}"),
        ChildEnd::Exited(None) => "command was killed by a signal".to_owned(),
        ChildEnd::TimedOut => format!("timed out after {}s; {stopped}", timeout.as_secs()),
        ChildEnd::Cancelled => format!("cancelled; {stopped}"),
    };
    if let (ChildEnd::Exited(_), Some(note)) = (end, &cgroup_note) {
        message = format!("{message}; {note}");
    }
    match end.failure() {
        None => JobOutcome {
            message: Some(message),
            ..JobOutcome::passed()
        },
        Some(kind) => JobOutcome::failed(kind, end.exit_code(), message),
    }
}

/// Copies the merged output pipe into the log while supervising the child.
async fn pump_and_supervise(
    child: &mut tokio::process::Child,
    reader: Option<tokio::net::unix::pipe::Receiver>,
    log: &mut dyn crate::process::LogSink,
    timeout: Duration,
    grace: Duration,
    cancel: &tokio_util::sync::CancellationToken,
    stop: Stop,
) -> std::io::Result<ChildEnd> {
    let Some(mut reader) = reader else {
        return supervise_with(child, timeout, grace, cancel, stop).await;
    };
    let mut buf = vec![0u8; 64 * 1024];
    let supervised = supervise_with(child, timeout, grace, cancel, stop);
    tokio::pin!(supervised);
    let mut end = None;
    loop {
        tokio::select! {
            r = reader.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => { let _ = log.write_all(&buf[..n]); }
            },
            e = &mut supervised, if end.is_none() => {
                end = Some(e);
                // The group is dead; drain what is left, but never wait on an
                // escaped daemon that still holds the pipe.
                while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(200), reader.read(&mut buf)).await {
                    if n == 0 { break; }
                    let _ = log.write_all(&buf[..n]);
                }
                break;
            }
        }
    }
    match end {
        Some(e) => e,
        None => supervised.await,
    }
}

fn spawn_failure(host_log: &mut dyn crate::process::LogSink, e: &std::io::Error) -> JobOutcome {
    let _ = writeln!(host_log, "[pikaci] could not start the job: {e}");
    JobOutcome::failed(
        FailureKind::Infrastructure,
        None,
        format!("could not start the job: {e}"),
    )
}

/// `1.2s`, `3m04s`, `1h02m`.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

impl Executor for HostExecutor {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Host
    }

    fn execute<'a>(&'a self, ctx: JobContext<'a>) -> BoxFuture<'a, JobOutcome> {
        Box::pin(self.run(ctx))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use camino::Utf8Path;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::clock::SystemClock;
    use crate::ids::RunId;
    use crate::pipeline::JobSpec;
    use crate::process::VecSink;
    use crate::status::RunStatus;

    fn job(command: &str) -> JobSpec {
        JobSpec {
            timeout_secs: 10,
            env: BTreeMap::from([("GREETING".to_owned(), "hi".to_owned())]),
            ..JobSpec::for_test("j", command)
        }
    }

    async fn run(
        command: &str,
        guest: &mut dyn crate::process::LogSink,
        timeout: Duration,
    ) -> (JobOutcome, String) {
        let dir = tempfile::tempdir().unwrap();
        let ws = Utf8Path::from_path(dir.path()).unwrap();
        let run_id: RunId = "20260324T161238Z-1a2b3c4d".parse().unwrap();
        let spec = job(command);
        let mut host = VecSink::default();
        let ctx = JobContext {
            run_id: &run_id,
            job: &spec,
            workspace: ws,
            source_root: ws,
            host_log: &mut host,
            guest_log: guest,
            timeout,
            cancel: CancellationToken::new(),
            clock: &SystemClock,
            deferred: &mut crate::engine::Deferred::default(),
        };
        let outcome = HostExecutor::new()
            .kill_grace(Duration::from_millis(200))
            .execute(ctx)
            .await;
        let host_text = String::from_utf8(host.0.lock().unwrap().clone()).unwrap();
        (outcome, host_text)
    }

    #[tokio::test]
    async fn output_env_and_exit_codes_through_a_pipe() {
        let mut guest = VecSink::default();
        let (o, host) = run(
            "echo out $GREETING $PIKACI_JOB_ID; echo err >&2; exit 3",
            &mut guest,
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(o.status, RunStatus::Failed);
        assert_eq!(o.exit_code, Some(3));
        assert_eq!(o.failure_kind, Some(FailureKind::TestFailure));
        let text = String::from_utf8(guest.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, "out hi j\nerr\n");
        assert!(
            host.contains("command: echo out") && host.contains("command exited with 3 after"),
            "{host}"
        );
    }

    #[tokio::test]
    async fn output_goes_straight_into_a_log_file() {
        struct FileSink(std::fs::File);
        impl std::io::Write for FileSink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                std::io::Write::write(&mut self.0, b)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                std::io::Write::flush(&mut self.0)
            }
        }
        impl crate::process::LogSink for FileSink {
            fn as_file(&self) -> Option<&std::fs::File> {
                Some(&self.0)
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("guest.log");
        let mut sink = FileSink(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .unwrap(),
        );
        let (o, _) = run("echo one; echo two >&2", &mut sink, Duration::from_secs(10)).await;
        assert_eq!(o.status, RunStatus::Passed);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
    }

    #[tokio::test]
    async fn a_timeout_is_a_timeout_failure() {
        let mut guest = VecSink::default();
        let (o, _) = run(
            "echo before; sleep 30",
            &mut guest,
            Duration::from_millis(300),
        )
        .await;
        assert_eq!(o.failure_kind, Some(FailureKind::Timeout));
        assert_eq!(o.exit_code, None);
        assert_eq!(
            String::from_utf8(guest.0.lock().unwrap().clone()).unwrap(),
            "before\n"
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(Duration::from_millis(1234)), "1.2s");
        assert_eq!(human_duration(Duration::from_secs(184)), "3m04s");
        assert_eq!(human_duration(Duration::from_secs(3720)), "1h02m");
    }

    #[test]
    fn the_outcome_says_how_the_job_ended_and_what_its_cgroup_stopped() {
        let note = || Some("stopped 2 processes left in the job's cgroup".to_owned());
        let timeout = Duration::from_secs(7);
        let passed = outcome(Ok(ChildEnd::Exited(Some(0))), note(), timeout);
        assert_eq!(passed.status, RunStatus::Passed);
        assert_eq!(
            passed.message.as_deref(),
            Some("command exited with 0; stopped 2 processes left in the job's cgroup")
        );
        let timed_out = outcome(Ok(ChildEnd::TimedOut), None, timeout);
        assert_eq!(timed_out.failure_kind, Some(FailureKind::Timeout));
        assert_eq!(
            timed_out.message.as_deref(),
            Some("timed out after 7s; the job's processes were stopped")
        );
        let cancelled = outcome(Ok(ChildEnd::Cancelled), note(), timeout);
        assert_eq!(
            cancelled.message.as_deref(),
            Some("cancelled; stopped 2 processes left in the job's cgroup")
        );
        let lost = outcome(Err(std::io::Error::other("gone")), None, timeout);
        assert_eq!(lost.failure_kind, Some(FailureKind::Infrastructure));
    }
}

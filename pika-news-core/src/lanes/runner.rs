//! Runs one lane in its worktree: a reduced environment, its own process
//! group, a wall-clock timeout, output to the lane log (pikaci's events as
//! readable `[pikaci] ...` lines, the raw JSONL beside it), and pikaci's
//! events read from its stdout as they come.

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use pikaci_core::cgroup::CgroupLimits;
use pikaci_core::contract;
use pikaci_core::process::{ChildEnd, Stop, supervise_with};
use pikaci_core::{FailureKind, RunId};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::cgroup::{CgroupEnd, LaneCgroup};
pub use super::events_log::LaneEvent;
use super::events_log::PathWords;
pub use super::lane_output::open_lane_log;
use super::lane_output::{pump_stderr, pump_stdout, vet_event};
use super::lane_spec::lane_env;
pub use super::lane_spec::{LaneOutcome, LaneRunSpec, allowed_env};
use super::launch::{command, launch, program_and_args, shown_command, shown_program};
use super::manifest::LaneCommand;
use super::run_claim::{LaneChild, RunClaims};
use crate::db::LaneStatus;

/// How long the last events may take to arrive once the group is stopped.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// How an ended child maps to a lane outcome. An argv lane runs the code
/// under test, so its end says why it failed as any child's does; a pikaci
/// lane's child is pikaci, whose exit codes say it (only "a job failed"
/// blames the code; any other exit or a signal is infrastructure).
pub fn classify(
    command: &LaneCommand,
    end: ChildEnd,
    timeout: Duration,
) -> (LaneStatus, Option<FailureKind>, String) {
    let pikaci = command.is_pikaci();
    let failure = if pikaci {
        contract::pikaci_failure(end)
    } else {
        end.failure()
    };
    let status = match failure {
        None => LaneStatus::Passed,
        Some(FailureKind::Cancelled) => LaneStatus::Cancelled,
        Some(_) => LaneStatus::Failed,
    };
    let message = match end {
        ChildEnd::Exited(Some(0)) => "passed".into(),
        ChildEnd::Exited(Some(_)) if pikaci && failure == Some(FailureKind::TestFailure) => {
            "a pikaci job failed".into()
        }
        ChildEnd::Exited(Some(c)) if pikaci => format!("pikaci could not run the lane (exit {c})"),
        ChildEnd::Exited(Some(c)) => format!("the lane exited with {c}"),
        ChildEnd::Exited(None) => "the lane was killed by a signal".into(),
        ChildEnd::TimedOut => {
            format!("timed out after {timeout:?}; the lane's processes were stopped")
        }
        ChildEnd::Cancelled => "cancelled".into(),
    };
    (status, failure, message)
}

/// pikaci's own account of why its run failed (`failed: test (exit 101)`),
/// from the run's record in the state root; `None` when there is no run or
/// its record cannot be read (the lane then keeps the generic message).
/// Read from the state root, not taken from the `run_finished` event: a
/// job can write to pikaci's stdout, while the record is pikaci's own.
async fn why_run_failed(state_root: &camino::Utf8Path, run: Option<&RunId>) -> Option<String> {
    let (store, run) = (pikaci_store::Store::open(state_root), run?.clone());
    tokio::task::spawn_blocking(move || store.run(&run).and_then(|dir| dir.record()).ok())
        .await
        .ok()
        .flatten()?
        .why_failed()
}

/// Kills the lane's process group if [`run_lane`] is dropped before the
/// group was stopped (the service shutting down mid-lane): `kill_on_drop`
/// alone would only reach the leader. Not used for a lane under a job
/// supervisor, which stops everything it has (with the grace) once its
/// control pipe closes.
struct GroupGuard(Option<Pid>);

impl GroupGuard {
    /// The guard of `child`'s group; none for a lane under a supervisor.
    fn of(child: &tokio::process::Child, under_supervisor: bool) -> Self {
        let pgid = child.id().and_then(|id| i32::try_from(id).ok());
        Self(pgid.map(Pid::from_raw).filter(|_| !under_supervisor))
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

/// Runs the lane to its end: its log and worktree checked (`prepare`),
/// its command found and wrapped (`program_and_args`, `launch`,
/// `command`), started in its cgroup (`spawn`), awaited while its events
/// are taken (`await_end`), its cgroup ended, and its end classified
/// (`conclude`). A step that cannot go on ends the lane as an
/// infrastructure failure, said in the lane log where there is one.
pub async fn run_lane(
    spec: LaneRunSpec,
    cancel: CancellationToken,
    on_event: impl FnMut(LaneEvent) + Send,
) -> LaneOutcome {
    match run_steps(&spec, &cancel, on_event).await {
        Ok(outcome) | Err(outcome) => outcome,
    }
}

async fn run_steps(
    spec: &LaneRunSpec,
    cancel: &CancellationToken,
    mut on_event: impl FnMut(LaneEvent) + Send,
) -> Result<LaneOutcome, LaneOutcome> {
    let log = prepare(spec)?;
    let env = lane_env(spec);
    let (program, args) = program_and_args(spec, &env, &log)?;
    let cgroup = make_cgroup(spec, &log)?;
    let launch = launch(spec, program, args, cgroup.as_ref())?;
    let (cmd, stop) = command(spec, launch, env, cgroup.as_ref(), &log)?;
    let under_supervisor = matches!(stop, Stop::ClosePipe(_) | Stop::ClosePipeThenKill(..));
    let mut child = spawn(cmd, cgroup.as_ref(), &log, shown_program(spec)).await?;
    let mut guard = GroupGuard::of(&child, under_supervisor);
    let mut events = Events::start(spec, &mut child, &log);
    let end = await_end(spec, &mut child, cancel, stop, &mut events, &mut on_event).await;
    // `supervise` has stopped the whole group; the cgroup ends the rest,
    // before the last events are awaited (an escaped daemon holding the
    // pipe is gone with it).
    guard.0 = None;
    let cgroup_end = end_cgroup(cgroup).await;
    let run_id = events.finish(&mut on_event).await;
    let end =
        end.map_err(|e| LaneOutcome::infrastructure(format!("waiting for the lane failed: {e}")))?;
    Ok(conclude(spec, end, cgroup_end, &log, run_id).await)
}

/// The lane log opened (its folder made), the command line written in it,
/// and the worktree checked.
fn prepare(spec: &LaneRunSpec) -> Result<File, LaneOutcome> {
    if let Some(dir) = spec.log_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let log = open_lane_log(&spec.log_path)
        .map_err(|e| LaneOutcome::infrastructure(format!("cannot open the lane log: {e}")))?;
    let _ = writeln!(
        &log,
        "[pika-news] running: {}",
        shown_command(&spec.command)
    );
    if !spec.worktree.is_dir() {
        return Err(LaneOutcome::logged(
            &log,
            "the lane's worktree is missing".into(),
        ));
    }
    Ok(log)
}

/// Starts the child and moves it into the lane's cgroup; a child that
/// cannot be moved is killed and awaited.
async fn spawn(
    mut cmd: tokio::process::Command,
    cgroup: Option<&LaneCgroup>,
    log: &File,
    shown_program: String,
) -> Result<tokio::process::Child, LaneOutcome> {
    let mut child = cmd
        .spawn()
        .map_err(|e| LaneOutcome::logged(log, format!("could not start {shown_program}: {e}")))?;
    drop(cmd);
    if let Some(cgroup) = cgroup
        && let Err(e) = cgroup.adopt(child.id().unwrap_or(0))
    {
        // Dropping the cgroup kills what is in it; the child is not, yet.
        if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = child.wait().await;
        return Err(LaneOutcome::logged(
            log,
            format!("could not move the lane into its cgroup: {e}"),
        ));
    }
    Ok(child)
}

/// The child's output pumps, the events they send and the run the lane
/// announced: what is read from the child while it runs and just after.
struct Events<'log> {
    rx: mpsc::Receiver<LaneEvent>,
    /// Whether the stdout pump may still send.
    open: bool,
    reader: Option<JoinHandle<()>>,
    errors: Option<JoinHandle<()>>,
    /// The runs the child may announce, for a pikaci lane.
    claims: Option<Arc<Mutex<RunClaims>>>,
    log: &'log File,
    run_id: Option<RunId>,
}

impl<'log> Events<'log> {
    /// Starts copying the child's stdout and stderr (a pikaci lane's; an
    /// argv lane's go straight to the log).
    fn start(spec: &LaneRunSpec, child: &mut tokio::process::Child, log: &'log File) -> Self {
        let pikaci = spec.command.is_pikaci();
        // Bounded: a child spamming events waits on its pipe instead of growing memory.
        let (tx, rx) = mpsc::channel(64);
        let raw = spec
            .events_path
            .as_ref()
            .filter(|_| pikaci)
            .and_then(|p| open_lane_log(p).ok());
        let target = spec.command.pikaci_target().map(|t| t.as_str().to_owned());
        let words = PathWords::new(&spec.worktree, &spec.pikaci_state_root);
        let errors = child
            .stderr
            .take()
            .map(|stderr| tokio::spawn(pump_stderr(stderr, log.try_clone().ok(), words.clone())));
        let reader = child.stdout.take().map(|stdout| {
            let log = log.try_clone().ok();
            tokio::spawn(pump_stdout(stdout, log, raw, target, words, tx))
        });
        // pikaci's stdout is only as trusted as its jobs: the run it names
        // is checked against the child before it is taken.
        let claims = child.id().filter(|_| pikaci).map(|pid| {
            Arc::new(Mutex::new(RunClaims::new(
                spec.pikaci_state_root.clone(),
                LaneChild::of(pid),
            )))
        });
        Self {
            rx,
            open: reader.is_some(),
            reader,
            errors,
            claims,
            log,
            run_id: None,
        }
    }

    /// Vets one event and hands it on, keeping the run it announces.
    async fn take(&mut self, ev: LaneEvent, on_event: &mut (impl FnMut(LaneEvent) + Send)) {
        let Some(ev) = vet_event(ev, self.claims.as_ref(), self.log).await else {
            return;
        };
        if let LaneEvent::PikaciRunStarted(run_id) = &ev {
            self.run_id = Some(run_id.clone());
        }
        on_event(ev);
    }

    /// Takes the last events until the pipe closes and the last lines of
    /// stderr, but never waits long on a process that escaped the group
    /// and still holds a pipe; the run the lane announced.
    async fn finish(mut self, on_event: &mut (impl FnMut(LaneEvent) + Send)) -> Option<RunId> {
        if self.open {
            let drain = async {
                while let Some(ev) = self.rx.recv().await {
                    self.take(ev, on_event).await;
                }
            };
            let _ = tokio::time::timeout(DRAIN_AFTER_EXIT, drain).await;
        }
        if let Some(r) = self.reader.take() {
            r.abort();
        }
        if let Some(e) = self.errors.take()
            && tokio::time::timeout(DRAIN_AFTER_EXIT, e).await.is_err()
        {
            tracing::debug!("pikaci's stderr still open after the lane ended");
        }
        self.run_id
    }
}

/// Awaits the child's end (its timeout, a cancel) while taking its events.
async fn await_end(
    spec: &LaneRunSpec,
    child: &mut tokio::process::Child,
    cancel: &CancellationToken,
    stop: Stop,
    events: &mut Events<'_>,
    on_event: &mut (impl FnMut(LaneEvent) + Send),
) -> std::io::Result<ChildEnd> {
    let supervised = supervise_with(child, spec.timeout, spec.kill_grace, cancel, stop);
    tokio::pin!(supervised);
    loop {
        tokio::select! {
            ev = events.rx.recv(), if events.open => match ev {
                Some(ev) => events.take(ev, on_event).await,
                None => events.open = false,
            },
            end = &mut supervised => return end,
        }
    }
}

/// The lane's outcome from its child's end, amended by what its cgroup
/// saw (a limit reached), said in the lane log's closing line.
async fn conclude(
    spec: &LaneRunSpec,
    end: ChildEnd,
    cgroup_end: Option<(CgroupLimits, CgroupEnd)>,
    log: &File,
    pikaci_run_id: Option<RunId>,
) -> LaneOutcome {
    let (status, failure_kind, mut message) = classify(&spec.command, end, spec.timeout);
    if spec.command.is_pikaci()
        && failure_kind == Some(FailureKind::TestFailure)
        && let Some(why) = why_run_failed(&spec.pikaci_state_root, pikaci_run_id.as_ref()).await
    {
        message = why;
    }
    let (status, failure_kind, message) = match cgroup_end {
        Some((limits, ended)) => ended.amend(limits, status, failure_kind, message),
        None => (status, failure_kind, message),
    };
    let _ = writeln!(&*log, "[pika-news] lane {}: {message}", status.as_str());
    LaneOutcome {
        status,
        failure_kind,
        exit_code: end.exit_code(),
        message,
        pikaci_run_id,
    }
}

/// The lane's cgroup, when lanes get one; an outcome to return when it
/// cannot be made.
fn make_cgroup(spec: &LaneRunSpec, log: &File) -> Result<Option<LaneCgroup>, LaneOutcome> {
    let Some(request) = &spec.cgroup else {
        return Ok(None);
    };
    request
        .create()
        .map(Some)
        .map_err(|e| LaneOutcome::logged(log, format!("could not make the lane's cgroup: {e}")))
}

/// Kills what is left in the lane's cgroup and removes it (on the blocking
/// pool: it waits for the kernel), with the limits it had.
async fn end_cgroup(cgroup: Option<LaneCgroup>) -> Option<(CgroupLimits, CgroupEnd)> {
    let cgroup = cgroup?;
    let limits = cgroup.limits();
    tokio::task::spawn_blocking(move || cgroup.end())
        .await
        .ok()
        .map(|end| (limits, end))
}

#[cfg(test)]
#[path = "runner_tests.rs"]
mod tests;

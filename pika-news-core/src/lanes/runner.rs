//! Runs one lane in its worktree: a reduced environment, its own process
//! group, a wall-clock timeout, output to the lane log (pikaci's events as
//! readable `[pikaci] ...` lines, the raw JSONL beside it), and pikaci's
//! events read from its stdout as they come.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt as _;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use pikaci_core::contract;
use pikaci_core::process::{ChildEnd, Stop, supervise_with};
use pikaci_core::{FailureKind, RunId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::ChildStdout;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::cgroup::{LaneCgroup, LaneCgroupRequest};
pub use super::events_log::LaneEvent;
use super::events_log::{MAX_EVENT_LINE, PathWords, Rendered, StdoutRenderer};
use super::manifest::LaneCommand;
use super::run_claim::{LaneChild, RunClaims};
use crate::db::LaneStatus;
use crate::sandbox::{self, Confinement, LaneUser, PathDirs};

/// How long the last events may take to arrive once the group is stopped.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// Variables a lane's child always keeps (plus the `PIKACI_*` of
/// [`PIKACI_ENV`] and the config's allow-list).
const BASE_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "CARGO_HOME",
    "RUSTUP_HOME",
];

/// The `PIKACI_*` variables a lane's pikaci reads from its environment (the
/// Incus settings, `pikaci-incus`'s `env_var`; a name ending in `_` is a
/// prefix), and the only ones of the service's a lane keeps: anything else
/// named `PIKACI_*` there is the service's business. `PIKACI_STATE_ROOT` is
/// set for each lane.
const PIKACI_ENV: &[&str] = &["PIKACI_REMOTE_LINUX_VM_INCUS_"];

/// Everything needed to run one lane.
#[derive(Debug, Clone)]
pub struct LaneRunSpec {
    /// What to run.
    pub command: LaneCommand,
    /// The worktree to run in.
    pub worktree: Utf8PathBuf,
    /// The `pikaci` binary, for pikaci lanes.
    pub pikaci_bin: Utf8PathBuf,
    /// The repository's state root, set as `PIKACI_STATE_ROOT`.
    pub pikaci_state_root: Utf8PathBuf,
    /// Extra variable names the child may keep.
    pub env_allow: Vec<String>,
    /// The parent environment to filter (a seam: tests pass their own).
    pub parent_env: BTreeMap<String, String>,
    /// The wall-clock limit.
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// Where the lane's output goes (pikaci's events as readable lines).
    pub log_path: Utf8PathBuf,
    /// Who the child runs as, and whether it dies with the server.
    pub confinement: Confinement,
    /// Where a pikaci lane's raw JSONL events are kept for tools, if anywhere.
    pub events_path: Option<Utf8PathBuf>,
    /// The lane's own cgroup, if lanes get one (`None`: its process group
    /// and its supervisor only).
    pub cgroup: Option<LaneCgroupRequest>,
    /// The lane's own fresh `HOME` (its `TMPDIR` is `tmp/` inside), made
    /// before and removed after it; `None`: the parent's, if allowed.
    pub home: Option<Utf8PathBuf>,
}

/// How a lane ended.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneOutcome {
    /// `passed`, `failed` or `cancelled`.
    pub status: LaneStatus,
    /// Why it failed.
    pub failure_kind: Option<FailureKind>,
    /// The exit code, when it exited by itself.
    pub exit_code: Option<i32>,
    /// A one-line summary.
    pub message: String,
    /// The pikaci run it started, if any.
    pub pikaci_run_id: Option<RunId>,
}

/// The child's environment: only allowed variables survive.
pub fn allowed_env(
    parent: &BTreeMap<String, String>,
    extra: &[String],
) -> BTreeMap<String, String> {
    parent
        .iter()
        .filter(|(k, _)| {
            BASE_ENV.contains(&k.as_str())
                || PIKACI_ENV
                    .iter()
                    .any(|p| k.as_str() == *p || (p.ends_with('_') && k.starts_with(p)))
                || extra.iter().any(|e| e == *k)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Opens (creating) a lane log, or a lane's events file, for appending. Never through a link and
/// never blocking on a FIFO (`O_NOFOLLOW | O_NONBLOCK`: opening a FIFO
/// without a reader fails at once): a lane running as the service could
/// have put either in its place during an earlier attempt. Whatever is
/// there and is not a regular file is removed (the folder is the
/// service's) and a fresh log made.
pub fn open_lane_log(path: &camino::Utf8Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    for _ in 0..3 {
        match options.open(path) {
            Ok(f) if f.metadata()?.is_file() => return Ok(f),
            Ok(_) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENXIO)) => {}
            Err(e) => return Err(e),
        }
        std::fs::remove_file(path)?;
    }
    Err(std::io::Error::other(
        "something keeps replacing the lane log with what is not a file",
    ))
}

/// The child's whole environment: the allowed variables; the lane's own
/// `HOME` and `TMPDIR`; git told to read no global or system configuration
/// (another lane could have written one: `core.fsmonitor` in a shared
/// `~/.gitconfig` runs a program in every later lane's `git status`); and
/// when the lane runs as a lane user, that user's `USER` and `LOGNAME`, and
/// a `safe.directory` for the worktree (git refuses a worktree whose
/// bookkeeping another user owns; here that user is the service).
fn lane_env(spec: &LaneRunSpec) -> BTreeMap<String, String> {
    let mut env = allowed_env(&spec.parent_env, &spec.env_allow);
    if let Some(user) = &spec.confinement.user {
        for (k, v) in user.identity_env() {
            env.insert(k.to_owned(), v);
        }
        // The service's PATH may name its own folders; a lane gets the system's.
        let path = spec.confinement.lane_path.as_deref();
        env.insert(
            "PATH".into(),
            path.unwrap_or(sandbox::DEFAULT_LANE_PATH).into(),
        );
        env.insert("GIT_CONFIG_COUNT".into(), "1".into());
        env.insert("GIT_CONFIG_KEY_0".into(), "safe.directory".into());
        env.insert("GIT_CONFIG_VALUE_0".into(), spec.worktree.to_string());
    }
    if let Some(home) = &spec.home {
        env.insert("HOME".into(), home.to_string());
        env.insert(
            "TMPDIR".into(),
            home.join(sandbox::files::LANE_TMP).to_string(),
        );
    }
    env.insert("GIT_CONFIG_GLOBAL".into(), "/dev/null".into());
    env.insert("GIT_CONFIG_NOSYSTEM".into(), "1".into());
    env
}

/// Passes on the events a lane's child announces, but a `run_started` only
/// when its run is the lane's own (see [`super::run_claim`]); a refused one
/// is logged, in the lane log too, and dropped.
async fn vet_event(
    ev: LaneEvent,
    claims: Option<&Arc<Mutex<RunClaims>>>,
    log: &File,
) -> Option<LaneEvent> {
    let (LaneEvent::PikaciRunStarted(run), Some(claims)) = (&ev, claims) else {
        return Some(ev);
    };
    let (claims, run) = (claims.clone(), run.clone());
    let shown = run.clone();
    let checked = tokio::task::spawn_blocking(move || {
        claims.lock().unwrap_or_else(|e| e.into_inner()).claim(&run)
    })
    .await;
    match checked {
        Ok(Ok(())) => Some(ev),
        Ok(Err(e)) => {
            tracing::warn!(run = %shown, error = %e, "a lane announced a run that is not its own; not recorded");
            let _ = writeln!(
                &mut &*log,
                "[pika-news] ignored run_started for {shown}: {e}"
            );
            None
        }
        Err(e) => {
            tracing::warn!(run = %shown, error = %e, "checking a lane's run failed; not recorded");
            None
        }
    }
}

/// Where `program` is, as `execvp` would find it on `path`: so a program
/// started through `setpriv` that does not exist is reported as not
/// started, as one started directly is. For a lane user, only what that
/// user may execute counts, found on the lane's own `PATH` (absolute
/// entries only), and a relative path is taken from the worktree, where the
/// lane starts.
fn resolve_program(
    program: &str,
    path: Option<&String>,
    worktree: &Utf8Path,
    user: Option<&LaneUser>,
) -> std::io::Result<Utf8PathBuf> {
    let not_found = || std::io::Error::from(std::io::ErrorKind::NotFound);
    if let Some(user) = user {
        let found = if program.contains('/') {
            Some(worktree.join(program))
                .filter(|p| sandbox::search_path::executable_by(p, (user.uid(), user.gid())))
        } else {
            sandbox::which_as(
                program,
                path.map_or("", String::as_str),
                (user.uid(), user.gid()),
            )
        };
        return found.ok_or_else(not_found);
    }
    if program.contains('/') {
        let p = Utf8PathBuf::from(program);
        return if p.is_file() { Ok(p) } else { Err(not_found()) };
    }
    sandbox::which(program, path.map(String::as_str), PathDirs::RelativeToo).ok_or_else(not_found)
}

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
async fn why_run_failed(state_root: &Utf8Path, run: Option<&RunId>) -> Option<String> {
    let (store, run) = (pikaci_store::Store::open(state_root), run?.clone());
    tokio::task::spawn_blocking(move || store.run(&run).and_then(|dir| dir.record()).ok())
        .await
        .ok()
        .flatten()?
        .why_failed()
}

fn infrastructure(message: String) -> LaneOutcome {
    LaneOutcome {
        status: LaneStatus::Failed,
        failure_kind: Some(FailureKind::Infrastructure),
        exit_code: None,
        message,
        pikaci_run_id: None,
    }
}

/// Kills the lane's process group if [`run_lane`] is dropped before the
/// group was stopped (the service shutting down mid-lane): `kill_on_drop`
/// alone would only reach the leader. Not used for a lane under a job
/// supervisor, which stops everything it has (with the grace) once its
/// control pipe closes.
struct GroupGuard(Option<Pid>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

/// How the lane's command line appears in its log (no server paths).
fn shown_command(command: &LaneCommand) -> String {
    match command {
        LaneCommand::Argv(argv) | LaneCommand::PikaciArgv { argv, .. } => {
            contract::shell_join(argv)
        }
        LaneCommand::PikaciTarget(t) => {
            contract::shell_join(std::iter::once("pikaci".to_owned()).chain(contract::run_argv(t)))
        }
    }
}

/// Copies pikaci's stderr into the lane log a line at a time (a longer
/// line in pieces of [`MAX_EVENT_LINE`]), the lane's worktree and the state
/// root named by their words: the lane log is served, and no answer names a
/// server path.
async fn pump_stderr(
    stderr: tokio::process::ChildStderr,
    log: Option<std::fs::File>,
    words: PathWords,
) {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _};
    let Some(mut log) = log else { return };
    let mut stderr = tokio::io::BufReader::new(stderr);
    let mut line = Vec::new();
    loop {
        line.clear();
        let limit = u64::try_from(MAX_EVENT_LINE).unwrap_or(u64::MAX);
        match (&mut stderr).take(limit).read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let _ = log.write_all(&words.apply(&line));
            }
        }
    }
}

/// Copies pikaci's stdout into the lane log, its events rendered as
/// readable lines, and as is into the events file; sends the events it
/// announces; ends at end of file.
async fn pump_stdout(
    mut stdout: ChildStdout,
    log: Option<File>,
    raw: Option<File>,
    target: Option<String>,
    words: PathWords,
    tx: mpsc::Sender<LaneEvent>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut renderer = StdoutRenderer::new(target).with_words(words);
    // Written off the runtime's threads: a slow disk must not stall other tasks.
    let mut log = log.map(tokio::fs::File::from_std);
    let mut raw = raw.map(tokio::fs::File::from_std);
    'read: loop {
        let n = match stdout.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // A full disk must not stop the lane or its events.
        if let Some(f) = &mut raw
            && f.write_all(&buf[..n]).await.is_err()
        {
            raw = None;
        }
        let mut out = Rendered::default();
        renderer.push(&buf[..n], &mut out);
        if let Some(l) = &mut log
            && l.write_all(&out.log).await.is_err()
        {
            log = None;
        }
        for ev in out.events {
            if tx.send(ev).await.is_err() {
                break 'read;
            }
        }
    }
    let mut out = Rendered::default();
    renderer.finish(&mut out);
    // Before the channel closes, so the lane's closing line comes after this output.
    if let Some(l) = &mut log {
        let _ = l.write_all(&out.log).await;
        let _ = l.flush().await;
    }
    if let Some(f) = &mut raw {
        let _ = f.flush().await;
    }
}

/// Runs the lane to its end.
pub async fn run_lane(
    spec: LaneRunSpec,
    cancel: CancellationToken,
    mut on_event: impl FnMut(LaneEvent) + Send,
) -> LaneOutcome {
    if let Some(dir) = spec.log_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let log = match open_lane_log(&spec.log_path) {
        Ok(f) => f,
        Err(e) => return infrastructure(format!("cannot open the lane log: {e}")),
    };
    let shown = shown_command(&spec.command);
    let _ = writeln!(&log, "[pika-news] running: {shown}");
    if !spec.worktree.is_dir() {
        let _ = writeln!(&log, "[pika-news] the lane's worktree is missing");
        return infrastructure("the lane's worktree is missing".into());
    }
    let pikaci = spec.command.is_pikaci();
    let (program, args) = match &spec.command {
        LaneCommand::Argv(argv) | LaneCommand::PikaciArgv { argv, .. } => {
            (argv[0].clone(), argv[1..].to_vec())
        }
        LaneCommand::PikaciTarget(t) => (spec.pikaci_bin.to_string(), contract::run_argv(t)),
    };
    let shown_program = if matches!(spec.command, LaneCommand::PikaciTarget(_)) {
        "pikaci"
    } else {
        shown.split(' ').next().unwrap_or("")
    };
    let env = lane_env(&spec);
    // An argv lane runs under the job supervisor, when there is one; a
    // pikaci lane's jobs are under pikaci's own. An argv that runs pikaci
    // (`nix run .#pikaci -- run T`) is started directly too: the run it
    // announces must name the lane's child as its owner, and `nix run`
    // becomes pikaci in the same process.
    let supervisor = match &spec.command {
        LaneCommand::Argv(_) => spec.confinement.supervisor.as_ref(),
        LaneCommand::PikaciTarget(_) | LaneCommand::PikaciArgv { .. } => None,
    };
    // Started through another program, the command is found here first, so
    // a missing one is reported as such.
    let through_another = spec.confinement.setpriv.is_some()
        || supervisor.is_some()
        || (pikaci && spec.cgroup.is_some() && spec.confinement.supervisor.is_some());
    let program = if through_another {
        match resolve_program(
            &program,
            env.get("PATH"),
            &spec.worktree,
            spec.confinement.user.as_ref(),
        ) {
            Ok(p) => p.into_string(),
            Err(e) => {
                let _ = writeln!(&log, "[pika-news] could not start {shown_program}: {e}");
                return infrastructure(format!("could not start {shown_program}: {e}"));
            }
        }
    } else {
        program
    };
    let cgroup = match make_cgroup(&spec, &log) {
        Ok(c) => c,
        Err(outcome) => return outcome,
    };
    let (program, args, control): (OsString, Vec<OsString>, _) = match supervisor {
        Some(sup) => {
            let pipe = match std::io::pipe() {
                Ok(p) => p,
                Err(e) => {
                    return infrastructure(format!("cannot make the lane's control pipe: {e}"));
                }
            };
            let in_cgroup = cgroup.as_ref().map(LaneCgroup::path);
            let (sup_program, sup_args) = sup.argv_in(spec.kill_grace, in_cgroup, &program, &args);
            (sup_program.into_os_string(), sup_args, Some(pipe))
        }
        // A pikaci lane is pikaci itself (so a cancel reaches it as a
        // signal to its group), but it forks helpers at once: it first
        // waits, as this binary, to be moved into the lane's cgroup, then
        // becomes pikaci, so nothing of it starts outside.
        None => match (cgroup.as_ref(), &spec.confinement.supervisor) {
            (Some(cgroup), Some(sup)) if pikaci && !cgroup.path().is_empty() => (
                sup.program().as_os_str().to_owned(),
                pikaci_core::cgroup::enter::enter_args(cgroup.path(), program, args),
                None,
            ),
            _ => (
                program.into(),
                args.into_iter().map(OsString::from).collect(),
                None,
            ),
        },
    };
    let mut cmd = match &spec.confinement.setpriv {
        Some(setpriv) => {
            let mut cmd = tokio::process::Command::new(setpriv);
            cmd.args(["--pdeathsig", "TERM", "--"]).arg(&program);
            cmd
        }
        None => tokio::process::Command::new(&program),
    };
    let under_supervisor = control.is_some();
    let (stdin, stop) = match control {
        // Closing the pipe (a timeout, a cancel, this future dropped, the
        // server gone) tells the supervisor to stop the lane.
        // With a cgroup, everything of the lane is ended at the grace, even
        // under a supervisor the lane has stopped.
        Some((reader, writer)) => match cgroup.as_ref().and_then(LaneCgroup::killer) {
            Some(kill_all) => (
                Stdio::from(reader),
                Stop::ClosePipeThenKill(writer, kill_all),
            ),
            None => (Stdio::from(reader), Stop::ClosePipe(writer)),
        },
        None => (Stdio::null(), Stop::GroupSignal),
    };
    cmd.args(&args)
        .current_dir(&spec.worktree)
        .env_clear()
        .envs(env)
        .stdin(stdin)
        .process_group(0)
        // A supervisor stops its lane itself once its pipe closes; killing
        // it would leave what it adopted to init.
        .kill_on_drop(!under_supervisor);
    if let Some(user) = &spec.confinement.user {
        user.apply(&mut cmd);
    }
    if pikaci {
        cmd.env(contract::STATE_ROOT_ENV, &spec.pikaci_state_root);
    }
    let (Ok(out_log), Ok(err_log)) = (log.try_clone(), log.try_clone()) else {
        return infrastructure("cannot share the lane log".into());
    };
    if pikaci {
        // pikaci's own lines (its events, its errors) go through pika-news,
        // which names the server's folders by words in them.
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        drop(err_log);
    } else {
        // An argv lane's output is the command's own, kept as written.
        cmd.stderr(err_log).stdout(out_log);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(&log, "[pika-news] could not start {shown_program}: {e}");
            return infrastructure(format!("could not start {shown_program}: {e}"));
        }
    };
    drop(cmd);
    if let Some(cgroup) = &cgroup
        && let Err(e) = cgroup.adopt(child.id().unwrap_or(0))
    {
        // Dropping the cgroup kills what is in it; the child is not, yet.
        if let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = child.wait().await;
        let _ = writeln!(
            &log,
            "[pika-news] could not move the lane into its cgroup: {e}"
        );
        return infrastructure(format!("could not move the lane into its cgroup: {e}"));
    }
    let mut guard = GroupGuard(
        child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw)
            .filter(|_| !under_supervisor),
    );

    // Bounded: a child spamming events waits on its pipe instead of growing memory.
    let (tx, mut rx) = mpsc::channel(64);
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
        tokio::spawn(pump_stdout(
            stdout,
            log.try_clone().ok(),
            raw,
            target,
            words,
            tx,
        ))
    });

    // pikaci's stdout is only as trusted as its jobs: the run it names is
    // checked against the child before it is taken.
    let claims = child.id().filter(|_| pikaci).map(|pid| {
        Arc::new(Mutex::new(RunClaims::new(
            spec.pikaci_state_root.clone(),
            LaneChild::of(pid),
        )))
    });
    let mut pikaci_run_id = None;
    let mut handle = |ev: Option<LaneEvent>, id: &mut Option<RunId>| {
        let Some(ev) = ev else { return };
        if let LaneEvent::PikaciRunStarted(run_id) = &ev {
            *id = Some(run_id.clone());
        }
        on_event(ev);
    };
    let supervised = supervise_with(&mut child, spec.timeout, spec.kill_grace, &cancel, stop);
    tokio::pin!(supervised);
    let mut events_open = reader.is_some();
    let end = loop {
        tokio::select! {
            ev = rx.recv(), if events_open => match ev {
                Some(ev) => handle(vet_event(ev, claims.as_ref(), &log).await, &mut pikaci_run_id),
                None => events_open = false,
            },
            end = &mut supervised => break end,
        }
    };
    // `supervise` has stopped the whole group; the cgroup ends the rest,
    // before the last events are awaited (an escaped daemon holding the
    // pipe is gone with it).
    guard.0 = None;
    let cgroup_end = end_cgroup(cgroup).await;
    // Take the last events until the pipe closes, but never wait long on a
    // process that escaped the group and still holds it.
    if events_open {
        let drain = async {
            while let Some(ev) = rx.recv().await {
                handle(
                    vet_event(ev, claims.as_ref(), &log).await,
                    &mut pikaci_run_id,
                );
            }
        };
        let _ = tokio::time::timeout(DRAIN_AFTER_EXIT, drain).await;
    }
    if let Some(r) = reader {
        r.abort();
    }
    if let Some(e) = errors {
        // Its last lines, unless a process that escaped still holds the pipe.
        if tokio::time::timeout(DRAIN_AFTER_EXIT, &mut Box::pin(e))
            .await
            .is_err()
        {
            tracing::debug!("pikaci's stderr still open after the lane ended");
        }
    }
    let end = match end {
        Ok(e) => e,
        Err(e) => return infrastructure(format!("waiting for the lane failed: {e}")),
    };
    let (status, failure_kind, mut message) = classify(&spec.command, end, spec.timeout);
    if pikaci
        && failure_kind == Some(FailureKind::TestFailure)
        && let Some(why) = why_run_failed(&spec.pikaci_state_root, pikaci_run_id.as_ref()).await
    {
        message = why;
    }
    let (status, failure_kind, message) = match cgroup_end {
        Some((limits, ended)) => ended.amend(limits, status, failure_kind, message),
        None => (status, failure_kind, message),
    };
    let _ = writeln!(&log, "[pika-news] lane {}: {message}", status.as_str());
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
    request.create().map(Some).map_err(|e| {
        let mut log = log;
        let _ = writeln!(log, "[pika-news] could not make the lane's cgroup: {e}");
        infrastructure(format!("could not make the lane's cgroup: {e}"))
    })
}

/// Kills what is left in the lane's cgroup and removes it (on the blocking
/// pool: it waits for the kernel), with the limits it had.
async fn end_cgroup(
    cgroup: Option<LaneCgroup>,
) -> Option<(pikaci_core::cgroup::CgroupLimits, super::cgroup::CgroupEnd)> {
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

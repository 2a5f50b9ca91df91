//! The job supervisor: a small process between pikaci and a job, so that
//! the job's processes die with pikaci, however pikaci ends.
//!
//! pikaci cannot stop a job once it is itself killed with SIGKILL, and a
//! parent-death signal reaches only the direct child, not the job's
//! grandchildren. So a job runs under a supervisor, started by re-running the
//! pikaci executable with [`SUPERVISOR_ARG`]:
//!
//! ```text
//! pikaci ──(control pipe)──► supervisor  [leads the job's process group; a subreaper]
//!                               └─ bash -c <command>  [same group]
//!                                    └─ grandchildren, daemons ...
//! ```
//!
//! - The supervisor's stdin is the read end of a pipe whose only writer is
//!   pikaci. When the pipe closes (pikaci closed it to stop the job, or
//!   pikaci died in any way, SIGKILL included) the supervisor stops the job:
//!   SIGTERM to its group and to any process that left the group, up to the
//!   grace period for them to end, then SIGKILL to every one left.
//! - It is a child subreaper (`PR_SET_CHILD_SUBREAPER`), so a process of the
//!   job whose parent ends (a daemon that called `setsid`, a backgrounded
//!   grandchild) becomes its child instead of init's, and is found.
//! - When the job's command ends by itself, every process it left behind is
//!   killed and the supervisor exits as the command did (the same code, or
//!   the same signal), so pikaci sees what it would have seen of bash.
//! - It catches SIGTERM, SIGINT and SIGHUP with a handler that does
//!   nothing: those, sent to the group, are meant for the job; the
//!   supervisor stays to clean up after it. It catches rather than blocks
//!   them because a blocked signal stays blocked in every program it starts
//!   (`std` does not reset the mask), while a caught one is reset to its
//!   default action by `exec`: the job starts with no signal blocked and
//!   none ignored (see `catch_stop_signals`).
//!
//! - Started with `--await-cgroup=PATH` ([`JobSupervisor::argv_in`]), it
//!   waits until whoever started it has moved it into that v2 cgroup
//!   before it starts the job (pika-news does, for a lane's cgroup), so no
//!   process of the job starts outside the cgroup.
//!
//! No `unsafe` is needed: the pipe replaces a parent-death signal, and every
//! call here has a safe wrapper.

use std::ffi::OsString;
use std::io::Read;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{Pid, getpgrp, getpid};

// The option that makes the supervisor wait to be moved into a cgroup is
// the one a child entering a cgroup takes.
use crate::cgroup::enter::AWAIT_CGROUP;
use crate::proc_stat::ProcStat;

/// The first argument that makes a pikaci executable act as the supervisor.
pub const SUPERVISOR_ARG: &str = "__pikaci-job-supervisor";

/// How long a supervisor waits to be moved into its cgroup.
pub const AWAIT_CGROUP_LIMIT: Duration = crate::cgroup::enter::ENTER_LIMIT;

/// The exit code of a supervisor that was never moved into its cgroup.
pub const NOT_MOVED_EXIT: u8 = crate::cgroup::enter::NOT_ENTERED_EXIT;

/// How long the supervisor keeps trying to kill what is left of a job
/// (a process stuck in the kernel cannot die at once).
const KILL_LIMIT: Duration = Duration::from_secs(5);

/// How often the supervisor looks whether the job's processes are gone.
const POLL: Duration = Duration::from_millis(20);

/// How to start the supervisor: a program and the first arguments that make
/// it run [`supervisor_main`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSupervisor {
    program: PathBuf,
    args: Vec<OsString>,
}

impl JobSupervisor {
    /// The running executable again (`/proc/self/exe`, which works even when
    /// the file was replaced since), with [`SUPERVISOR_ARG`]. Its `main` must
    /// call [`dispatch`] first.
    pub fn this_executable() -> Self {
        Self::new("/proc/self/exe", [SUPERVISOR_ARG])
    }

    /// `program` with `args`, which must make it run [`supervisor_main`].
    pub fn new<I, S>(program: impl Into<PathBuf>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
        }
    }

    /// The command that runs `program args...` under the supervisor with
    /// `grace` between SIGTERM and SIGKILL. The caller adds the control pipe
    /// as stdin, the output, the environment and the folder.
    pub fn command<I, S>(&self, grace: Duration, program: &str, args: I) -> tokio::process::Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.command_in(grace, None, program, args)
    }

    /// [`command`](Self::command), for a supervisor that waits to be moved
    /// into the v2 cgroup `cgroup` first (see [`argv_in`](Self::argv_in)).
    pub fn command_in<I, S>(
        &self,
        grace: Duration,
        cgroup: Option<&str>,
        program: &str,
        args: I,
    ) -> tokio::process::Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let (supervisor, supervisor_args) = self.argv_in(grace, cgroup, program, args);
        let mut cmd = tokio::process::Command::new(supervisor);
        // Shown by `ps` instead of `/proc/self/exe`.
        cmd.arg0("pikaci-job-supervisor").args(supervisor_args);
        cmd
    }

    /// The program and arguments that run `program args...` under the
    /// supervisor with `grace`, for a caller that starts it through another
    /// program (such as `setpriv`). The caller adds the control pipe as
    /// stdin.
    pub fn argv<I, S>(
        &self,
        grace: Duration,
        program: impl AsRef<std::ffi::OsStr>,
        args: I,
    ) -> (PathBuf, Vec<OsString>)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.argv_in(grace, None, program, args)
    }

    /// The program it runs as (this binary, by its path): what a lane
    /// starts to enter its cgroup too ([`crate::cgroup::enter`]).
    pub fn program(&self) -> &std::path::Path {
        &self.program
    }

    /// [`argv`](Self::argv), for a supervisor that first waits (at most
    /// [`AWAIT_CGROUP_LIMIT`]) until whoever started it has moved it into
    /// the v2 cgroup `cgroup` (as `/proc/self/cgroup` names it), so every
    /// process of the job starts in it.
    pub fn argv_in<I, S>(
        &self,
        grace: Duration,
        cgroup: Option<&str>,
        program: impl AsRef<std::ffi::OsStr>,
        args: I,
    ) -> (PathBuf, Vec<OsString>)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut all = self.args.clone();
        if let Some(cgroup) = cgroup {
            all.push(format!("{AWAIT_CGROUP}{cgroup}").into());
        }
        all.push(grace.as_millis().to_string().into());
        all.push(program.as_ref().to_owned());
        all.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        (self.program.clone(), all)
    }
}

/// Runs the supervisor when `args` (as from `std::env::args_os()`) ask for
/// it, and returns its exit code; `None` otherwise.
pub fn dispatch(args: impl IntoIterator<Item = OsString>) -> Option<ExitCode> {
    let mut args = args.into_iter().skip(1);
    if args.next()? != SUPERVISOR_ARG {
        return None;
    }
    Some(supervisor_main(args.collect()))
}

/// The supervisor: `args` are `--await-cgroup=PATH` (optional), the grace in
/// milliseconds, then the program and its arguments. See the module
/// documentation.
pub fn supervisor_main(args: Vec<OsString>) -> ExitCode {
    let mut args = args.into_iter().peekable();
    let cgroup = args
        .next_if(|a| a.to_str().is_some_and(|a| a.starts_with(AWAIT_CGROUP)))
        .and_then(|a| Some(a.to_str()?[AWAIT_CGROUP.len()..].to_owned()));
    let grace = args
        .next()
        .and_then(|g| g.to_str()?.parse().ok())
        .map(Duration::from_millis);
    let (Some(grace), Some(program)) = (grace, args.next()) else {
        let _ = writeln!(
            std::io::stderr(),
            "[pikaci] the job supervisor needs: GRACE_MS PROGRAM [ARGS...]"
        );
        return ExitCode::from(2);
    };
    // Signals sent to the group are meant for the job.
    catch_stop_signals();
    // Orphans of the job become ours, so none is lost to init.
    let _ = nix::sys::prctl::set_child_subreaper(true);
    // In the job's cgroup before the job starts: nothing of it starts outside.
    if let Some(cgroup) = cgroup
        && let Err(e) = crate::cgroup::await_membership(&cgroup, AWAIT_CGROUP_LIMIT)
    {
        let _ = writeln!(std::io::stderr(), "[pikaci] the job supervisor {e}");
        return ExitCode::from(NOT_MOVED_EXIT);
    }

    let job = match std::process::Command::new(&program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .spawn()
    {
        Ok(child) => Pid::from_raw(child.id() as i32),
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "[pikaci] could not start {}: {e}",
                program.to_string_lossy()
            );
            return ExitCode::from(127);
        }
    };

    let stopping = Arc::new(AtomicBool::new(false));
    {
        let stopping = stopping.clone();
        std::thread::spawn(move || {
            // EOF (or an error): pikaci is gone or asks the job to stop.
            let mut buf = [0u8; 64];
            while matches!(std::io::stdin().read(&mut buf), Ok(n) if n > 0) {}
            stopping.store(true, Ordering::SeqCst);
            stop(grace);
            std::process::exit(128 + Signal::SIGTERM as i32);
        });
    }

    let status = reap_until(job);
    if stopping.load(Ordering::SeqCst) {
        // The stopping thread ends the process once the rest is gone.
        loop {
            has_children();
            std::thread::sleep(POLL);
        }
    }
    // Usually the command left nothing behind: no child, nothing to look for.
    if has_children() {
        kill_all_left();
    }
    exit_like(status)
}

/// The signals a helper process outlives: those that stop a job or a
/// terminal session.
const STOP_SIGNALS: [Signal; 3] = [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP];

/// Makes SIGTERM, SIGINT and SIGHUP do nothing to this process: a helper
/// process (the supervisor, the exit-cleanup watcher) outlives the signals
/// meant for the processes around it.
///
/// They are caught by a handler that only sets a flag nobody reads, not
/// blocked and not ignored: the signal mask and ignored signals are passed
/// on to every program a process starts (and `std` resets neither, but for
/// SIGPIPE), so a blocked SIGTERM here was a SIGTERM the job could never
/// receive (`timeout`, `kill`, a `trap` did nothing). A caught signal is
/// reset to its default action by `exec`.
pub(crate) fn catch_stop_signals() {
    let seen = Arc::new(AtomicBool::new(false));
    for signal in STOP_SIGNALS {
        // Fails only for a signal that cannot be caught, which these are not.
        let _ = signal_hook::flag::register(signal as i32, seen.clone());
    }
}

/// Reaps children (orphans adopted along the way included) until `job`
/// ends; returns how it ended.
fn reap_until(job: Pid) -> WaitStatus {
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(status @ (WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _)))
                if pid == job =>
            {
                return status;
            }
            Ok(_) | Err(Errno::EINTR) => {}
            // No child at all: the job was reaped already (cannot happen).
            Err(_) => return WaitStatus::Exited(job, 0),
        }
    }
}

/// Reaps whatever children have ended, without waiting, and says whether
/// any child is left. As a subreaper this process inherits every orphan of
/// the job, so no child left means no process of the job left: the top of
/// any chain of the job's live processes is a child of this one.
fn has_children() -> bool {
    use nix::sys::wait::WaitPidFlag;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return true,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(Errno::ECHILD) => return false,
            Err(_) => return true,
        }
    }
}

/// The job's process group: this process's own, when it leads one (pikaci
/// starts it so). Started any other way, it never signals a group it
/// merely belongs to (a shell's, say), only its own descendants.
fn own_group() -> Option<i32> {
    let group = getpgrp();
    (group == getpid()).then_some(group.as_raw())
}

/// The job's processes still running: those of this group and those this
/// subreaper adopted (a process that left the group ends up here once its
/// parent is gone), this one left out.
fn job_processes() -> Vec<(Pid, ProcStat)> {
    let me = std::process::id();
    let group = own_group();
    ProcStat::all()
        .into_iter()
        .filter(|(pid, stat)| {
            *pid != me
                && !stat.is_dead()
                && (Some(stat.pgrp) == group || u32::try_from(stat.ppid).is_ok_and(|p| p == me))
        })
        .map(|(pid, stat)| (Pid::from_raw(pid as i32), stat))
        .collect()
}

/// SIGTERM to the job, up to `grace` for it to end, then SIGKILL to what is
/// left.
fn stop(grace: Duration) {
    let group = own_group();
    if let Some(group) = group {
        // This process catches SIGTERM and does nothing: the group signal
        // is for the others.
        let _ = nix::sys::signal::killpg(Pid::from_raw(group), Signal::SIGTERM);
    }
    for (pid, stat) in job_processes() {
        if Some(stat.pgrp) != group {
            let _ = kill(pid, Signal::SIGTERM);
        }
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && has_children() {
        std::thread::sleep(POLL);
    }
    kill_all_left();
}

/// SIGKILL to every process of the job, again as long as new ones appear
/// (an orphan is adopted once its parent dies), for at most [`KILL_LIMIT`].
fn kill_all_left() {
    let deadline = Instant::now() + KILL_LIMIT;
    while has_children() && Instant::now() < deadline {
        for (pid, _) in job_processes() {
            let _ = kill(pid, Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Ends this process the way the job's command ended: with its exit code,
/// or by the same signal (when this process can die of it).
fn exit_like(status: WaitStatus) -> ExitCode {
    match status {
        WaitStatus::Exited(_, code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        WaitStatus::Signaled(_, signal, _) => {
            // Back to the signal's default action (this process catches the
            // stop signals, and every Rust program ignores SIGPIPE), then
            // raised: this process dies of it as the command did.
            let _ = signal_hook::low_level::emulate_default_handler(signal as i32);
            // Still here: a signal whose default is to do nothing. Say it as
            // a shell would.
            ExitCode::from(128u8.saturating_add(signal as u8))
        }
        _ => ExitCode::from(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_supervisor_argument_dispatches() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(dispatch(args(&["pikaci", "run"])).is_none());
        assert!(dispatch(args(&["pikaci"])).is_none());
        // The argument alone, with nothing to run: a usage error, not a run.
        assert_eq!(
            dispatch(args(&["pikaci", SUPERVISOR_ARG])),
            Some(ExitCode::from(2))
        );
    }

    #[test]
    fn the_command_carries_the_grace_and_the_job() {
        let sup = JobSupervisor::this_executable();
        let cmd = sup.command(Duration::from_secs(5), "bash", ["-c", "true"]);
        let std = cmd.as_std();
        assert_eq!(std.get_program(), "/proc/self/exe");
        let args: Vec<_> = std.get_args().collect();
        assert_eq!(args, [SUPERVISOR_ARG, "5000", "bash", "-c", "true"]);
        let (_, args) = sup.argv_in(Duration::from_secs(1), Some("/lane-1"), "true", [""; 0]);
        assert_eq!(
            args,
            [SUPERVISOR_ARG, "--await-cgroup=/lane-1", "1000", "true"]
        );
    }
}

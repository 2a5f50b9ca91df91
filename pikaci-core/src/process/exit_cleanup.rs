//! Cleanup that happens even when pikaci is killed: a small watcher process
//! that runs a job's cleanup commands (delete the Incus instance, remove its
//! artifacts folder) if pikaci dies before it has cleaned up itself.
//!
//! A job that runs outside pikaci's process tree (in an Incus instance)
//! cannot be stopped by the [job supervisor](super::supervisor): killing the
//! local `incus exec` client leaves the command running in the instance.
//! What stops it is deleting the instance. So before the instance is made,
//! the executor *arms* a watcher, started by re-running the pikaci
//! executable with [`EXIT_CLEANUP_ARG`]:
//!
//! ```text
//! pikaci ──(pipe: the plan, then "disarm")──► watcher  [own process group]
//!                                               └─ on EOF without "disarm":
//!                                                  incus delete --force ...
//! ```
//!
//! - The watcher's stdin is a pipe whose only writer is pikaci. The first
//!   line is the plan (JSON: the commands, in order, and a time limit for
//!   each). When pikaci has cleaned up it writes `disarm` and the watcher
//!   exits without running anything.
//! - When the pipe closes without `disarm` (pikaci SIGKILLed, crashed, or
//!   the job's future dropped before its cleanup ran) the watcher runs the
//!   commands, each killed after its limit, and exits.
//! - It leads its own process group and catches SIGTERM, SIGINT and SIGHUP
//!   with a handler that does nothing, so a signal or a kill meant for
//!   pikaci's group (Ctrl-C, a lane's timeout in pika-news) does not take
//!   the watcher with it. Caught, not blocked: the commands it runs start
//!   with the signals' default actions and an empty signal mask.
//!
//! Running a cleanup twice is harmless for the commands it is meant for (a
//! delete of an instance that is gone fails, and nothing else happens).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The first argument that makes a pikaci executable act as the watcher.
pub const EXIT_CLEANUP_ARG: &str = "__pikaci-exit-cleanup";

/// The line that tells the watcher pikaci cleaned up itself.
const DISARM: &str = "disarm";

/// How often the watcher looks whether a command has ended.
const POLL: Duration = Duration::from_millis(50);

/// One cleanup command: a program, its arguments and environment added to
/// the watcher's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupCommand {
    /// The program (`incus`, `ssh`, `rm`, ...).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment added to the inherited one.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// What the watcher is told when it is armed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Plan {
    commands: Vec<CleanupCommand>,
    limit_ms: u64,
}

/// How to start the watcher: a program and the first arguments that make it
/// run [`exit_cleanup_main`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitCleanup {
    program: PathBuf,
    args: Vec<OsString>,
}

impl ExitCleanup {
    /// The running executable again (`/proc/self/exe`), with
    /// [`EXIT_CLEANUP_ARG`]. Its `main` must call [`dispatch`] first.
    pub fn this_executable() -> Self {
        Self::new("/proc/self/exe", [EXIT_CLEANUP_ARG])
    }

    /// `program` with `args`, which must make it run [`exit_cleanup_main`].
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

    /// Starts a watcher that runs `commands` (each for at most `limit`)
    /// unless [`ArmedCleanup::disarm`] is called before pikaci ends.
    pub fn arm(
        &self,
        commands: Vec<CleanupCommand>,
        limit: Duration,
    ) -> std::io::Result<ArmedCleanup> {
        let plan = Plan {
            commands,
            limit_ms: u64::try_from(limit.as_millis()).unwrap_or(u64::MAX),
        };
        let mut line = serde_json::to_vec(&plan).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut child = std::process::Command::new(&self.program)
            .arg0("pikaci-exit-cleanup")
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Out of pikaci's group: a kill of that group spares it.
            .process_group(0)
            .spawn()?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("the watcher has no stdin"))?;
        if let Err(e) = stdin.write_all(&line) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        Ok(ArmedCleanup {
            child: Some(child),
            stdin: Some(stdin),
        })
    }
}

/// A watcher that will run its commands unless disarmed. Dropping it
/// without [`disarm`](Self::disarm) closes the pipe: the watcher runs them.
#[derive(Debug)]
pub struct ArmedCleanup {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
}

impl ArmedCleanup {
    /// Tells the watcher the cleanup is done; it exits without running
    /// anything. The watcher is reaped on a thread (it exits at once).
    pub fn disarm(mut self) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = stdin.write_all(format!("{DISARM}\n").as_bytes());
        }
        // Drop closes the pipe and reaps the watcher.
    }

    /// The watcher's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

impl Drop for ArmedCleanup {
    fn drop(&mut self) {
        // Closing the pipe without "disarm" makes the watcher clean up.
        drop(self.stdin.take());
        if let Some(mut child) = self.child.take() {
            std::thread::spawn(move || child.wait());
        }
    }
}

/// Runs the watcher when `args` (as from `std::env::args_os()`) ask for it,
/// and returns its exit code; `None` otherwise.
pub fn dispatch(args: impl IntoIterator<Item = OsString>) -> Option<ExitCode> {
    let mut args = args.into_iter().skip(1);
    if args.next()? != EXIT_CLEANUP_ARG {
        return None;
    }
    Some(exit_cleanup_main(std::io::stdin().lock()))
}

/// The watcher: reads the plan from `input`, then waits for `disarm` or the
/// end of input. Exits 0 when disarmed or when every command succeeded, 1
/// when one failed, 2 on a bad plan.
pub fn exit_cleanup_main(input: impl std::io::Read) -> ExitCode {
    super::supervisor::catch_stop_signals();

    let mut lines = BufReader::new(input).lines();
    let Some(Ok(first)) = lines.next() else {
        return ExitCode::from(2);
    };
    let Ok(plan) = serde_json::from_str::<Plan>(&first) else {
        return ExitCode::from(2);
    };
    for line in lines {
        match line {
            Ok(l) if l.trim() == DISARM => return ExitCode::SUCCESS,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    // The pipe closed without "disarm": pikaci is gone.
    let limit = Duration::from_millis(plan.limit_ms);
    let mut ok = true;
    for cmd in &plan.commands {
        ok &= run_bounded(cmd, limit);
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Runs `cmd` to its end, or kills it after `limit`; whether it exited 0.
fn run_bounded(cmd: &CleanupCommand, limit: Duration) -> bool {
    let mut command = std::process::Command::new(&cmd.program);
    command
        .args(&cmd.args)
        .envs(&cmd.env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // The watcher catches the stop signals rather than blocking them, so
    // the command starts with none blocked and can be stopped as usual.
    let Ok(mut child) = command.spawn() else {
        return false;
    };
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_line(commands: Vec<CleanupCommand>) -> String {
        let plan = Plan {
            commands,
            limit_ms: 10_000,
        };
        format!("{}\n", serde_json::to_string(&plan).unwrap())
    }

    fn touch(path: &std::path::Path) -> CleanupCommand {
        CleanupCommand {
            program: "sh".into(),
            args: vec![
                "-c".into(),
                "printf \"$MARK\" >> \"$1\"".into(),
                "sh".into(),
                path.display().to_string(),
            ],
            env: BTreeMap::from([("MARK".into(), "ran;".into())]),
        }
    }

    fn temp_file(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("pikaci-exit-cleanup-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("mark")
    }

    #[test]
    fn the_end_of_input_without_disarm_runs_every_command_in_order() {
        let mark = temp_file("eof");
        let input = plan_line(vec![touch(&mark), touch(&mark)]);
        assert_eq!(exit_cleanup_main(input.as_bytes()), ExitCode::SUCCESS);
        assert_eq!(std::fs::read_to_string(&mark).unwrap(), "ran;ran;");
    }

    #[test]
    fn disarm_runs_nothing() {
        let mark = temp_file("disarm");
        let input = plan_line(vec![touch(&mark)]) + "disarm\n";
        assert_eq!(exit_cleanup_main(input.as_bytes()), ExitCode::SUCCESS);
        assert!(!mark.exists());
    }

    #[test]
    fn a_failing_or_hanging_command_is_reported_and_the_next_still_runs() {
        let mark = temp_file("fail");
        let fail = CleanupCommand {
            program: "false".into(),
            args: vec![],
            env: BTreeMap::new(),
        };
        let hang = CleanupCommand {
            program: "sleep".into(),
            args: vec!["30".into()],
            env: BTreeMap::new(),
        };
        let plan = Plan {
            commands: vec![fail, hang, touch(&mark)],
            limit_ms: 200,
        };
        let input = format!("{}\n", serde_json::to_string(&plan).unwrap());
        assert_eq!(exit_cleanup_main(input.as_bytes()), ExitCode::from(1));
        assert_eq!(std::fs::read_to_string(&mark).unwrap(), "ran;");
    }

    #[test]
    fn a_bad_plan_is_a_usage_error_and_runs_nothing() {
        assert_eq!(exit_cleanup_main(&b"not json\n"[..]), ExitCode::from(2));
        assert_eq!(exit_cleanup_main(&b""[..]), ExitCode::from(2));
    }

    #[test]
    fn only_the_watcher_argument_dispatches() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(dispatch(args(&["pikaci", "run"])).is_none());
        assert!(dispatch(args(&["pikaci"])).is_none());
    }
}

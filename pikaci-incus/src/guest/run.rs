//! Running the job inside the guest: `bash --noprofile --norc -lc CMD` in the
//! workspace, as `pikaci` unless run-as-root, its stdout and stderr merged in
//! one pipe (so their order is kept) and copied to our stdout and to
//! `guest.log`, killed as a whole process group on timeout, and
//! `result.json` written on every path.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use camino::Utf8Path;
use jiff::Timestamp;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::spec::{
    ENV_GUEST_COMMAND, ENV_GUEST_ROOT, ENV_RUN_AS_ROOT, ENV_TIMEOUT_SECS, EXIT_CANCELLED,
    EXIT_GUEST_ERROR, EXIT_TIMEOUT, GuestPaths, GuestResult, GuestSpec, GuestStatus, PIKACI_GID,
    PIKACI_UID,
};

/// How long a timed-out or stopped command gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(3);
/// How often the wait for the command looks whether the guest was told to stop.
const STOP_POLL: Duration = Duration::from_millis(50);
/// How long to wait for the output pipe to drain once the command is gone.
const DRAIN_WAIT: Duration = Duration::from_secs(2);
/// NixOS system paths put in front of `PATH` when they exist: `incus exec`
/// gives a generic FHS `PATH` that does not name them.
const SYSTEM_PATHS: [&str; 2] = ["/run/wrappers/bin", "/run/current-system/sw/bin"];

/// How the guest run ended: the exit code to exit with and what went into
/// `result.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestOutcome {
    /// What `pikaci-incus-run` exits with.
    pub exit_code: i32,
    /// What was written to `result.json`.
    pub result: GuestResult,
}

/// Writes to our stdout and to `guest.log`; a failing half does not stop the other.
struct Tee {
    stdout: Box<dyn Write + Send>,
    log: Option<File>,
}

impl Tee {
    fn write_all(&mut self, buf: &[u8]) {
        // Our stdout is the `incus exec` stream; if the host went away the
        // log file still gets everything, so errors on either side are ignored.
        let _ = self.stdout.write_all(buf);
        let _ = self.stdout.flush();
        if let Some(log) = self.log.as_mut() {
            let _ = log.write_all(buf);
        }
    }

    fn line(&mut self, text: &str) {
        self.write_all(format!("pikaci-incus-run: {text}\n").as_bytes());
    }
}

type SharedTee = Arc<Mutex<Tee>>;

fn say(tee: &SharedTee, text: &str) {
    if let Ok(mut t) = tee.lock() {
        t.line(text);
    }
}

/// Writes `result.json` via a temporary file and a rename, so the host never
/// reads half of it.
pub fn write_result(paths: &GuestPaths, result: &GuestResult) -> std::io::Result<()> {
    let tmp = paths.artifacts.join(".result.json.tmp");
    let json = serde_json::to_vec_pretty(result).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, json)?;
    std::fs::rename(&tmp, paths.result_json())
}

/// Runs the job of `spec`, copying output to `stdout` and `guest.log`.
pub fn run(spec: &GuestSpec, stdout: Box<dyn Write + Send>) -> GuestOutcome {
    run_until(spec, stdout, &AtomicBool::new(false))
}

/// How the wait for the command ended.
enum Ended {
    /// By itself.
    Exited,
    /// At its timeout.
    TimedOut,
    /// The guest was told to stop.
    Stopped,
}

/// [`run`], stopping the command when `stop` is set (the binary sets it on
/// SIGTERM, SIGINT or SIGHUP, which `incus exec` passes on from the host
/// when the job is cancelled): its process group gets SIGTERM at once and
/// SIGKILL after [`KILL_GRACE`], and `result.json` says `cancelled`.
pub fn run_until(
    spec: &GuestSpec,
    stdout: Box<dyn Write + Send>,
    stop: &AtomicBool,
) -> GuestOutcome {
    let _ = std::fs::create_dir_all(&spec.paths.artifacts);
    let log = File::create(spec.paths.guest_log());
    let log_error = log.as_ref().err().map(ToString::to_string);
    let tee = Arc::new(Mutex::new(Tee {
        stdout,
        log: log.ok(),
    }));
    if let Some(e) = log_error {
        let message = format!("cannot write {}: {e}", spec.paths.guest_log());
        return finish(spec, &tee, GuestStatus::Error, None, message);
    }

    let who = if spec.run_as_root {
        "root".to_owned()
    } else {
        format!("pikaci (uid {PIKACI_UID})")
    };
    say(
        &tee,
        &format!(
            "running as {who} in {}, timeout {}s",
            spec.paths.workspace,
            spec.timeout.as_secs()
        ),
    );

    if let Err(e) = make_job_dirs(spec) {
        let message = format!("could not make {}: {e}", spec.paths.state);
        return finish(spec, &tee, GuestStatus::Error, None, message);
    }
    let (child, reader) = match spawn(spec, &tee) {
        Ok(pair) => pair,
        Err(e) => {
            let message = format!("could not start bash in {}: {e}", spec.paths.workspace);
            return finish(spec, &tee, GuestStatus::Error, None, message);
        }
    };
    let pgid = Pid::from_raw(i32::try_from(child.id()).expect("pids fit in i32"));
    let waiter = wait_in_thread(child);

    let deadline = Instant::now() + spec.timeout;
    let (status, ended) = loop {
        if stop.load(Ordering::SeqCst) {
            break (stop_group(pgid, &waiter), Ended::Stopped);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break (stop_group(pgid, &waiter), Ended::TimedOut);
        }
        match waiter.recv_timeout(left.min(STOP_POLL)) {
            Ok(status) => break (status, Ended::Exited),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break (None, Ended::Exited),
        }
    };
    // Whatever the command left running in its group goes too: the job is over.
    let _ = killpg(pgid, Signal::SIGKILL);
    // Output still in the pipe is copied; a process that escaped the group
    // and holds the pipe open does not keep us waiting.
    let _ = reader.recv_timeout(DRAIN_WAIT);

    match ended {
        Ended::TimedOut => {
            let message = format!(
                "timed out after {}s; the command's process group was killed",
                spec.timeout.as_secs()
            );
            return finish(spec, &tee, GuestStatus::Timeout, None, message);
        }
        Ended::Stopped => {
            let message = "cancelled: the guest was told to stop; the command's process group \
                           got SIGTERM, and SIGKILL after the grace"
                .to_owned();
            return finish(spec, &tee, GuestStatus::Cancelled, None, message);
        }
        Ended::Exited => {}
    }
    match status.map(|s| (s.code(), s.signal())) {
        Some((Some(0), _)) => finish(
            spec,
            &tee,
            GuestStatus::Passed,
            Some(0),
            "exit code 0".into(),
        ),
        Some((Some(code), _)) => finish(
            spec,
            &tee,
            GuestStatus::Failed,
            Some(code),
            format!("exit code {code}"),
        ),
        Some((None, Some(sig))) => finish(
            spec,
            &tee,
            GuestStatus::Failed,
            Some(128 + sig),
            format!("killed by signal {sig}"),
        ),
        _ => finish(
            spec,
            &tee,
            GuestStatus::Error,
            None,
            "lost track of the command".into(),
        ),
    }
}

/// SIGTERM to the command's process group, then SIGKILL if it is still
/// there after [`KILL_GRACE`]; answers how the command ended.
fn stop_group(pgid: Pid, waiter: &mpsc::Receiver<Option<ExitStatus>>) -> Option<ExitStatus> {
    let _ = killpg(pgid, Signal::SIGTERM);
    match waiter.recv_timeout(KILL_GRACE) {
        Ok(s) => s,
        Err(_) => {
            let _ = killpg(pgid, Signal::SIGKILL);
            waiter.recv().ok().flatten()
        }
    }
}

/// Makes the job's cache folders, owned by the user the job runs as.
fn make_job_dirs(spec: &GuestSpec) -> std::io::Result<()> {
    let dirs = spec.paths.job_dirs();
    for dir in &dirs {
        std::fs::create_dir_all(dir)?;
    }
    if !spec.run_as_root && nix::unistd::geteuid().is_root() {
        let (uid, gid) = (
            Some(nix::unistd::Uid::from_raw(PIKACI_UID)),
            Some(nix::unistd::Gid::from_raw(PIKACI_GID)),
        );
        // The parents of the folders stay root's; each folder is the job's.
        for dir in std::iter::once(spec.paths.state.join("xdg")).chain(dirs) {
            nix::unistd::chown(dir.as_std_path(), uid, gid).map_err(std::io::Error::from)?;
        }
    }
    Ok(())
}

/// Starts bash with one pipe for stdout and stderr, and a thread copying
/// that pipe into the tee. The returned channel fires when the pipe is drained.
fn spawn(
    spec: &GuestSpec,
    tee: &SharedTee,
) -> std::io::Result<(std::process::Child, mpsc::Receiver<()>)> {
    let (read_end, write_end) = nix::unistd::pipe().map_err(std::io::Error::from)?;
    let mut cmd = Command::new(bash_program());
    cmd.args(["--noprofile", "--norc", "-lc", &spec.command])
        .current_dir(&spec.paths.workspace)
        .stdin(Stdio::null())
        .stdout(Stdio::from(write_end.try_clone()?))
        .stderr(Stdio::from(write_end))
        .process_group(0)
        .env("PATH", child_path())
        .envs(spec.paths.job_env());
    // The hand-over variables are for the guest binary, not for the job.
    for var in [
        ENV_GUEST_COMMAND,
        ENV_TIMEOUT_SECS,
        ENV_RUN_AS_ROOT,
        ENV_GUEST_ROOT,
    ] {
        cmd.env_remove(var);
    }
    if !spec.run_as_root {
        // std drops supplementary groups (setgroups(0)) before setgid/setuid.
        cmd.uid(PIKACI_UID)
            .gid(PIKACI_GID)
            .env("HOME", "/home/pikaci")
            .env("USER", "pikaci")
            .env("LOGNAME", "pikaci");
    } else {
        cmd.env("HOME", "/root")
            .env("USER", "root")
            .env("LOGNAME", "root");
    }
    let child = cmd.spawn()?;
    // Our copies of the write end close with `cmd`, so the reader sees EOF
    // once the command and everything it started have closed theirs.
    drop(cmd);

    let (done_tx, done_rx) = mpsc::channel();
    let tee = Arc::clone(tee);
    thread::spawn(move || {
        let mut pipe = File::from(read_end);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Ok(mut t) = tee.lock() {
                        t.write_all(&buf[..n]);
                    }
                }
            }
        }
        let _ = done_tx.send(());
    });
    Ok((child, done_rx))
}

fn wait_in_thread(mut child: std::process::Child) -> mpsc::Receiver<Option<ExitStatus>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait().ok());
    });
    rx
}

fn bash_program() -> &'static str {
    let nixos = "/run/current-system/sw/bin/bash";
    if Utf8Path::new(nixos).exists() {
        nixos
    } else {
        "bash"
    }
}

fn child_path() -> String {
    let inherited = std::env::var("PATH")
        .unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin".into());
    let mut parts: Vec<&str> = SYSTEM_PATHS
        .iter()
        .copied()
        .filter(|p| Utf8Path::new(p).is_dir() && !inherited.split(':').any(|q| q == *p))
        .collect();
    parts.push(&inherited);
    parts.join(":")
}

fn finish(
    spec: &GuestSpec,
    tee: &SharedTee,
    status: GuestStatus,
    exit_code: Option<i32>,
    message: String,
) -> GuestOutcome {
    let result = GuestResult {
        status,
        exit_code,
        finished_at: Timestamp::now(),
        message: Some(message.clone()),
    };
    say(tee, &message);
    if let Err(e) = write_result(&spec.paths, &result) {
        say(
            tee,
            &format!("cannot write {}: {e}", spec.paths.result_json()),
        );
    }
    let code = match status {
        GuestStatus::Passed => 0,
        GuestStatus::Failed => exit_code.unwrap_or(1),
        GuestStatus::Timeout => EXIT_TIMEOUT,
        GuestStatus::Error => EXIT_GUEST_ERROR,
        GuestStatus::Cancelled => EXIT_CANCELLED,
    };
    GuestOutcome {
        exit_code: code,
        result,
    }
}

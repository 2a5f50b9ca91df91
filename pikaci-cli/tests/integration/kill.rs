//! A SIGKILLed `pikaci` takes its jobs with it: every process of a job that
//! ignores SIGTERM and prints nothing, its grandchildren and a daemon that
//! left its process group, is gone within the job's grace.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pikaci_core::contract::JOB_KILL_GRACE;
use pikaci_core::process::SUPERVISOR_MARGIN;
use pikaci_core::{FailureKind, RunStatus};

use crate::support::{TestEnv, process_gone};

/// A job that ignores SIGTERM, says nothing, and starts two TERM-ignoring
/// grandchildren and a daemon in its own session; every pid goes to `pids`.
fn stubborn_job(pids: &camino::Utf8Path) -> String {
    format!(
        "[[job]]\nid = \"stubborn\"\ncommand = '''\n\
         trap '' TERM\n\
         echo $$ >> {pids}\n\
         for i in 1 2; do bash -c 'trap \"\" TERM; while true; do sleep 1; done' & echo $! >> {pids}; done\n\
         setsid bash -c 'trap \"\" TERM; echo $$ >> {pids}; exec sleep 600' &\n\
         while true; do sleep 1; done\n'''\n"
    )
}

/// Reads `count` pids from `path` (bounded wait).
fn pids(path: &camino::Utf8Path, count: usize) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found: Vec<i32> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        if found.len() >= count {
            return found;
        }
        assert!(Instant::now() < deadline, "the job wrote {found:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until every pid is gone, at most `limit`; returns those left.
fn survivors(pids: &[i32], limit: Duration) -> Vec<i32> {
    let deadline = Instant::now() + limit;
    loop {
        let left: Vec<i32> = pids.iter().copied().filter(|&p| !process_gone(p)).collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_sigkilled_pikaci_leaves_no_process_of_its_job() {
    let env = TestEnv::new("");
    let pidfile = env.root.join("pids");
    std::fs::write(env.repo.join("pikaci.toml"), stubborn_job(&pidfile)).unwrap();
    let mut child = env
        .cmd()
        .args(["run"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let job = pids(&pidfile, 4);
    let started = Instant::now();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    // The job gets its grace (it ignores SIGTERM), then SIGKILL.
    let left = survivors(
        &job,
        JOB_KILL_GRACE + SUPERVISOR_MARGIN + Duration::from_secs(5),
    );
    let took = started.elapsed();
    for &p in &left {
        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
    }
    assert!(
        left.is_empty(),
        "still running after {took:?}: {left:?} of {job:?}"
    );
    eprintln!(
        "{} processes of the job gone {took:?} after pikaci was killed",
        job.len()
    );
    // And the run reads as interrupted, not running.
    let out = env.pikaci(&["status", env.last_run().run_id.as_str()]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("(interrupted)"));
}

#[test]
fn a_timeout_stops_a_daemon_that_left_the_group_too() {
    let env = TestEnv::new("");
    let pidfile = env.root.join("pids");
    let pipeline = stubborn_job(&pidfile).replace(
        "id = \"stubborn\"\n",
        "id = \"stubborn\"\ntimeout_secs = 1\n",
    );
    std::fs::write(env.repo.join("pikaci.toml"), pipeline).unwrap();
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(1));
    let job = pids(&pidfile, 4);
    // pikaci waited for its job to be stopped before it wrote the record.
    let left = survivors(&job, Duration::from_secs(1));
    for &p in &left {
        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
    }
    assert!(left.is_empty(), "{left:?} of {job:?} outlived the run");
    let run = env.last_run();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.jobs[0].failure_kind, Some(FailureKind::Timeout));
}

/// A job that leaves a `setsid` daemon ignoring SIGTERM, then kills its own
/// supervisor (`kill -9 $PPID`) or stops it (`kill -STOP $PPID`): the job's
/// cgroup (pikaci runs as root here) holds the daemon, and it is ended with
/// the job; the job's message says what was stopped.
fn job_that_turns_on_its_supervisor(signal: &str, timeout_secs: u64) {
    let env = TestEnv::new("");
    let pidfile = env.root.join("pids");
    let pipeline = format!(
        "[[job]]\nid = \"escape\"\ntimeout_secs = {timeout_secs}\ncommand = '''\n\
         setsid bash -c 'trap \"\" TERM; echo $$ >> {pidfile}; exec sleep 600' &\n\
         while [ ! -s {pidfile} ]; do sleep 0.05; done\n\
         trap '' TERM\nkill -{signal} $PPID\nwhile true; do sleep 1; done\n'''\n"
    );
    std::fs::write(env.repo.join("pikaci.toml"), pipeline).unwrap();
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(1));
    let daemon = pids(&pidfile, 1);
    let left = survivors(&daemon, Duration::from_millis(100));
    for &p in &left {
        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
    }
    let run = env.last_run();
    let host_log = env.log(&run.run_id, "escape", "host.log");
    assert!(left.is_empty(), "the daemon outlived its job\n{host_log}");
    let message = run.jobs[0].message.clone().unwrap_or_default();
    assert!(
        message.contains("left in the job's cgroup"),
        "{message}\n{host_log}"
    );
    assert!(host_log.contains("[pikaci] job cgroup: "), "{host_log}");
}

#[test]
fn a_job_that_kills_its_supervisor_leaves_no_daemon() {
    job_that_turns_on_its_supervisor("KILL", 60);
}

#[test]
fn a_job_that_stops_its_supervisor_leaves_no_daemon_after_its_timeout() {
    job_that_turns_on_its_supervisor("STOP", 2);
}

//! Signals reach a job: it starts with none blocked or ignored, so
//! `timeout`, `kill` and a `trap ... TERM` inside it work, and its timeout
//! or a cancel of pikaci sends it SIGTERM at once (the trap runs) before
//! SIGKILL after the grace.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pikaci_core::signal_probe::{PROBE_WAITING, SIGNAL_PROBE, probe_problems};
use pikaci_core::{FailureKind, RunStatus};

use crate::support::TestEnv;

/// A pipeline with one job, `probe`, running the signal probe.
fn probe_pipeline(timeout_secs: u64) -> String {
    format!(
        "[[job]]\nid = \"probe\"\ntimeout_secs = {timeout_secs}\ncommand = '''\n{SIGNAL_PROBE}'''\n"
    )
}

#[test]
fn a_timed_out_job_gets_signals_and_its_trap_runs() {
    let env = TestEnv::new(&probe_pipeline(6));
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(1));
    let run = env.last_run();
    assert_eq!(run.jobs[0].failure_kind, Some(FailureKind::Timeout));
    let log = env.log(&run.run_id, "probe", "guest.log");
    let problems = probe_problems(&log, true);
    assert!(problems.is_empty(), "{problems:?}\n{log}");
}

#[test]
fn a_cancel_reaches_the_jobs_trap_at_once() {
    let env = TestEnv::new(&probe_pipeline(120));
    let mut child = env
        .cmd()
        .args(["run"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let run = env.wait_for_run("the probe to wait for SIGTERM", |r| {
        r.jobs
            .first()
            .is_some_and(|j| j.status == RunStatus::Running)
            && env
                .log(&r.run_id, "probe", "guest.log")
                .contains(PROBE_WAITING)
    });
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let record = env.last_run();
    assert_eq!(record.jobs[0].failure_kind, Some(FailureKind::Cancelled));
    let log = env.log(&run.run_id, "probe", "guest.log");
    let problems = probe_problems(&log, true);
    assert!(problems.is_empty(), "{problems:?}\n{log}");
}

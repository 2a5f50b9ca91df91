//! SIGINT and SIGTERM cancel the run and the final record is still written.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pikaci_core::{FailureKind, RunStatus};

use crate::support::{TestEnv, read_pid, wait_gone};

fn cancel_with(signal: Signal, code: i32, reason: &str) {
    let env = TestEnv::new("");
    let pidfile = env.root.join("job.pid");
    std::fs::write(
        env.repo.join("pikaci.toml"),
        format!(
            "[[job]]\nid = \"long\"\ncommand = \"echo $$ > {pidfile}; sleep 300\"\n[[job]]\nid = \"later\"\ncommand = \"true\"\n"
        ),
    )
    .unwrap();
    let mut child = env
        .cmd()
        .args(["run"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let job_pid = read_pid(&pidfile);
    env.wait_for_run("the job to be running", |r| {
        r.jobs.iter().any(|j| j.status == RunStatus::Running)
    });
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
    let status = child.wait().unwrap();
    // 128 + the signal's number, as a shell reports a command it ended.
    assert_eq!(status.code(), Some(code));
    let run = env.last_run();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.failure_kind, Some(FailureKind::Cancelled));
    assert_eq!(run.cancel_reason.as_deref(), Some(reason));
    assert!(
        run.message
            .as_deref()
            .unwrap_or_default()
            .ends_with(&format!("the run was cancelled: {reason}")),
        "{:?}",
        run.message
    );
    assert!(run.finished_at.is_some());
    assert_eq!(run.jobs[0].failure_kind, Some(FailureKind::Cancelled));
    assert_eq!(run.jobs[1].status, RunStatus::Skipped);
    assert!(wait_gone(job_pid), "the job's process survived");
}

#[test]
fn sigterm_cancels_and_records() {
    cancel_with(Signal::SIGTERM, 143, "terminated (SIGTERM)");
}

#[test]
fn sigint_cancels_and_records() {
    cancel_with(Signal::SIGINT, 130, "interrupted (SIGINT, Ctrl-C)");
}

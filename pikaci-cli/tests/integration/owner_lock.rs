//! A run is running while its pikaci holds its folder's lock: no pid or
//! start time written in `run.json` keeps a dead run running, and gc cannot
//! take a run whose owner holds the lock.

use std::process::{Child, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pikaci_core::{FailureKind, RunRecord, RunStatus};

use crate::support::{TestEnv, read_pid, stderr, stdout};

/// A run whose one job sleeps; returns pikaci and its running record.
fn sleeping_run(env: &TestEnv) -> (Child, RunRecord) {
    let pidfile = env.root.join("job.pid");
    std::fs::write(
        env.repo.join("pikaci.toml"),
        format!("[[job]]\nid = \"long\"\ncommand = \"echo $$ > {pidfile}; exec sleep 300\"\n"),
    )
    .unwrap();
    let child = env
        .cmd()
        .args(["run"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    read_pid(&pidfile);
    let live = env.wait_for_run("the job to be running", |r| {
        r.jobs.iter().any(|j| j.status == RunStatus::Running)
    });
    (child, live)
}

fn status(env: &TestEnv, record: &RunRecord) -> String {
    stdout(&env.pikaci(&["status", record.run_id.as_str()]))
}

/// Makes the run folder look untouched for two hours (past gc's young
/// folder rule), as `touch -d` does.
fn age_folder(env: &TestEnv, record: &RunRecord) {
    let dir = env.store().root().run_dir(&record.run_id);
    let out = std::process::Command::new("touch")
        .args(["-d", "2 hours ago", dir.as_str()])
        .output()
        .expect("touch (coreutils) runs");
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn pid_1_with_its_real_start_time_does_not_keep_a_lock_owning_run_running() {
    let env = TestEnv::new("[[job]]\nid = \"a\"\ncommand = \"true\"\n");
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut rec = env.last_run();
    // The record pikaci wrote while it ran claims the lock.
    rec.status = RunStatus::Running;
    rec.finished_at = None;
    rec.failure_kind = None;
    let mut json = serde_json::to_value(&rec).unwrap();
    json["owner"] = serde_json::json!({
        "pid": 1,
        "host": pikaci_core::this_host_name(),
        "start_ticks": pikaci_core::ProcStat::read(1).unwrap().start_ticks,
        "lock": true,
    });
    let rec: RunRecord = serde_json::from_value(json).unwrap();
    env.store().persist_run_record(&rec).unwrap();
    // pid 1 lives and started exactly then, but nobody holds the lock.
    let text = status(&env, &rec);
    assert!(text.contains("status  failed (interrupted)"), "{text}");
    let saved = env.store().load_run_record(&rec.run_id).unwrap();
    assert_eq!(saved.failure_kind, Some(FailureKind::Interrupted));
}

#[test]
fn a_running_run_holds_its_lock_and_reads_interrupted_the_moment_pikaci_is_killed() {
    let env = TestEnv::new("");
    let (mut child, live) = sleeping_run(&env);
    let owner = live.owner.clone().expect("an owner");
    assert!(owner.lock, "the record claims the lock: {owner:?}");
    let text = status(&env, &live);
    assert!(text.contains("status  running"), "{text}");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    // At once: the job's supervisor may still be stopping the job, but the
    // lock went with pikaci.
    let text = status(&env, &live);
    assert!(text.contains("(interrupted)"), "{text}");
}

#[test]
fn gc_cannot_take_a_run_whose_owner_holds_the_lock_whatever_its_record_says() {
    let env = TestEnv::new("");
    let (mut child, live) = sleeping_run(&env);
    // The record names a process that is gone (the job's own shell could
    // write this), and the folder is old: only the lock says it runs.
    let mut lying = live.clone();
    let gone = {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    lying.owner.as_mut().unwrap().pid = gone;
    lying.owner.as_mut().unwrap().start_ticks = Some(1);
    env.store().persist_run_record(&lying).unwrap();
    age_folder(&env, &live);
    let out = env.pikaci(&["gc", "--keep-runs", "0", "--stale-after", "0s"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("kept {}: still running", live.run_id)),
        "{}",
        stdout(&out)
    );
    let text = status(&env, &live);
    assert!(text.contains("status  running"), "{text}");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    child.wait().unwrap();
    let done = env.store().load_run_record(&live.run_id).unwrap();
    assert_eq!(done.status, RunStatus::Failed);
    assert_eq!(done.failure_kind, Some(FailureKind::Cancelled));
}

#[test]
fn gc_leaves_a_folder_claimed_a_moment_ago_even_with_stale_after_0s() {
    let env = TestEnv::new("[[job]]\nid = \"a\"\ncommand = \"true\"\n");
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let done = env.last_run();
    // A folder claimed just now, its first record not written yet; its id
    // a few seconds old, as a slow start makes it.
    let now = jiff::Timestamp::now() - std::time::Duration::from_secs(5);
    let claimed = pikaci_core::RunId::from_parts(now, 7);
    assert!(env.store().claim_run(&claimed).unwrap());
    age_folder(&env, &done);
    let out = env.pikaci(&["gc", "--keep-runs", "0", "--stale-after", "0s"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("kept {claimed}: still running")),
        "{text}"
    );
    assert!(env.store().root().run_dir(&claimed).exists(), "{text}");
    assert!(!env.store().root().run_dir(&done.run_id).exists(), "{text}");
}

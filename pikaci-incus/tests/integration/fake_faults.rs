//! Faults a real Incus daemon cannot produce on demand, against the
//! `fake-incus` stand-in with real processes: a VM agent that never comes
//! up, one that comes up late, a `start` that fails, a `delete` that fails
//! and one that blocks while pikaci is killed. Everything else is
//! tested against real Incus (`real_*.rs`); `conformance.rs` keeps the
//! stand-in honest.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pikaci_core::{FailureKind, RunStatus};
use pikaci_incus::{
    CommandRunner, IncusCommand, IncusSettings, IncusSettingsBuilder, ProcessRunner,
};
use tokio_util::sync::CancellationToken;

use crate::real_cli::pikaci_bin;
use crate::real_executor::{Ran, job, run_job};
use crate::support::{TestDir, guest_bin, only_record};

/// `fake-incus`, next to the guest binary in the same target folder.
pub(crate) fn fake_incus() -> PathBuf {
    let path = guest_bin().with_file_name("fake-incus");
    assert!(
        path.exists(),
        "{} is missing: `cargo test --workspace` builds it, or run `cargo build -p fake-incus` first",
        path.display()
    );
    path
}

/// A fake Incus state folder, a snapshot and an artifacts root.
pub(crate) struct Fake {
    pub(crate) dir: TestDir,
    pub(crate) state: Utf8PathBuf,
    pub(crate) snapshot: Utf8PathBuf,
}

impl Fake {
    pub(crate) fn new() -> Self {
        let dir = TestDir::new();
        let state = dir.dir("incus-state");
        let snapshot = dir.dir("run/snapshot");
        std::fs::write(snapshot.join("README"), "snapshot file\n").unwrap();
        dir.dir("artifacts");
        Self {
            dir,
            state,
            snapshot,
        }
    }

    pub(crate) fn settings(&self) -> IncusSettingsBuilder {
        IncusSettings::builder()
            .program(fake_incus().to_str().unwrap())
            .artifacts_root(self.dir.path.join("artifacts"))
            .readiness_timeout(Duration::from_secs(10))
            .readiness_interval(Duration::from_millis(100))
            .launch_grace(Duration::from_secs(10))
            .client_env("FAKE_INCUS_STATE", self.state.as_str())
            .client_env("FAKE_INCUS_GUEST_BIN", guest_bin().to_str().unwrap())
    }

    pub(crate) fn write(&self, file: &str, json: serde_json::Value) {
        std::fs::write(self.state.join(file), json.to_string()).unwrap();
    }

    async fn run(&self, settings: IncusSettings, command: &str) -> Ran {
        run_job(
            settings,
            &job("fault", command, 60),
            &self.snapshot,
            CancellationToken::new(),
        )
        .await
    }

    /// No instance in `project`, no artifacts folder.
    pub(crate) fn assert_clean(&self, project: &str) {
        let out = Command::new(fake_incus())
            .args(["list", "--project", project, "--format", "json"])
            .env("FAKE_INCUS_STATE", &self.state)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "[]",
            "an instance was left"
        );
        let left: Vec<_> = std::fs::read_dir(self.dir.path.join("artifacts"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "artifacts folder left behind: {left:?}");
    }
}

#[tokio::test]
async fn a_vm_agent_that_never_comes_up_fails_after_the_bound() {
    let f = Fake::new();
    f.write("knobs.json", serde_json::json!({"never_ready": true}));
    let ran = f
        .run(
            f.settings()
                .readiness_timeout(Duration::from_secs(1))
                .build(),
            "true",
        )
        .await;
    assert_eq!(ran.outcome.failure_kind, Some(FailureKind::Infrastructure));
    let msg = ran.message();
    assert!(msg.contains("never became ready within 1s"), "{msg}");
    assert!(msg.contains("VM agent isn't currently running"), "{msg}");
    assert!(ran.guest.is_empty());
    f.assert_clean("pika-managed-agents");
}

#[tokio::test]
async fn a_vm_agent_that_comes_up_late_is_waited_for() {
    let f = Fake::new();
    f.write("knobs.json", serde_json::json!({"ready_after_probes": 3}));
    let ran = f.run(f.settings().build(), "echo ok").await;
    assert_eq!(ran.outcome.status, RunStatus::Passed, "{}", ran.host);
    assert!(ran.host.contains("ready after 4 probe(s)"), "{}", ran.host);
    assert!(ran.phases().contains(&"wait_ready".to_owned()));
    f.assert_clean("pika-managed-agents");
}

#[tokio::test]
async fn a_start_that_fails_is_infrastructure_quoting_incus() {
    let f = Fake::new();
    f.write(
        "knobs.json",
        serde_json::json!({"start_error": "Failed to run: forkstart: exit status 1"}),
    );
    let ran = f.run(f.settings().build(), "true").await;
    assert_eq!(ran.outcome.failure_kind, Some(FailureKind::Infrastructure));
    let msg = ran.message();
    assert!(
        msg.contains("step start_instance failed") && msg.contains("forkstart: exit status 1"),
        "{msg}"
    );
    assert!(!ran.phases().contains(&"launch_guest".to_owned()));
    f.assert_clean("pika-managed-agents");
}

impl Fake {
    /// `pikaci ARGS` in a repository of one Incus job `vm` running `true`,
    /// with this fake as its `incus`; the state root is `state/`.
    fn pikaci(&self, args: &[&str]) -> Command {
        self.pikaci_jobs(&["vm"], args)
    }

    /// [`pikaci`](Self::pikaci) with these Incus jobs running `true`.
    fn pikaci_jobs(&self, jobs: &[&str], args: &[&str]) -> Command {
        let repo = self.dir.dir("repo");
        let pipeline: String = jobs
            .iter()
            .map(|id| format!("[[job]]\nid = \"{id}\"\ncommand = \"true\"\nexecutor = \"incus\"\n"))
            .collect();
        std::fs::write(repo.join("pikaci.toml"), pipeline).unwrap();
        let mut cmd = Command::new(pikaci_bin());
        cmd.current_dir(&repo)
            .args(["--state-root", self.dir.path.join("state").as_str()])
            .args(args)
            .env("PIKACI_REMOTE_LINUX_VM_INCUS_PROGRAM", fake_incus())
            .env("PIKACI_REMOTE_LINUX_VM_INCUS_READINESS_TIMEOUT_SECS", "1")
            .env(
                "PIKACI_REMOTE_LINUX_VM_INCUS_ARTIFACTS_DIR",
                self.dir.path.join("artifacts"),
            )
            .env("FAKE_INCUS_STATE", &self.state)
            .env("FAKE_INCUS_GUEST_BIN", guest_bin());
        cmd
    }

    /// The instances the fake has in the default project.
    fn instances(&self) -> usize {
        let out = Command::new(fake_incus())
            .args([
                "list",
                "--project",
                "pika-managed-agents",
                "--format",
                "json",
            ])
            .env("FAKE_INCUS_STATE", &self.state)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
            .unwrap()
            .len()
    }

    /// How many `incus delete` calls the fake has had.
    fn deletes(&self) -> usize {
        std::fs::read_to_string(self.state.join("calls.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"delete\""))
            .count()
    }
}

/// Polls `cond` every 20 ms for at most 30 s.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..1500 {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("30 s passed and still not: {what}");
}

#[test]
fn a_failed_delete_is_reported_in_the_record_and_incus_gc_removes_the_instance() {
    let f = Fake::new();
    f.write(
        "knobs.json",
        serde_json::json!({"delete_error": "the storage pool is busy"}),
    );
    let out = f.pikaci(&["run"]).output().unwrap();
    // The job's own work passed: a failed delete does not fail it.
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let rec = only_record(&f.dir.path.join("state"));
    let job = &rec.jobs[0];
    assert_eq!(job.status, RunStatus::Passed);
    let msg = job.message.as_deref().unwrap();
    assert!(
        msg.contains("cleanup failed") && msg.contains("the storage pool is busy"),
        "{msg}"
    );
    let phases = &job.remote_linux_vm_execution.as_ref().unwrap().phases;
    assert_eq!(phases.last().unwrap().phase, "delete_instance");
    assert_eq!(f.instances(), 1, "the instance the delete failed on");

    f.write("knobs.json", serde_json::json!({}));
    let out = f
        .pikaci(&["incus", "gc", "--older-than", "0s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    f.assert_clean("pika-managed-agents");
}

#[test]
fn the_next_job_runs_while_a_delete_waits_and_a_pikaci_killed_then_leaves_it_to_the_watchers() {
    let f = Fake::new();
    let block = f.dir.path.join("delete-blocked");
    std::fs::write(&block, "").unwrap();
    f.write(
        "knobs.json",
        serde_json::json!({"delete_blocked_by": block.as_str()}),
    );
    let mut child = f
        .pikaci_jobs(&["a", "b"], &["run", "--jobs", "1"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let state = f.dir.path.join("state");
    // The run's folder exists a moment before its first record does.
    let record = || {
        let run = std::fs::read_dir(state.join("runs")).ok()?.next()?.ok()?;
        let bytes = std::fs::read(run.path().join("run.json")).ok()?;
        Some(serde_json::from_slice::<pikaci_core::RunRecord>(&bytes).unwrap())
    };
    // One job at a time, and a's delete waits: b still runs to its
    // result, and both results reach run.json while the deletes wait.
    eventually("both jobs' results recorded", || {
        record().is_some_and(|r| {
            r.jobs.len() == 2 && r.jobs.iter().all(|j| j.status == RunStatus::Passed)
        })
    });
    let rec = record().unwrap();
    assert_eq!(
        rec.status,
        RunStatus::Running,
        "the run waits for the deletes"
    );
    assert_eq!(f.instances(), 2);
    assert_eq!(
        f.deletes(),
        4,
        "for each job the stale delete, then the blocked one"
    );

    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    // Each job's exit-cleanup watcher, still armed, deletes its instance too.
    eventually("the watchers' deletes", || f.deletes() == 6);
    std::fs::remove_file(&block).unwrap();
    let artifacts = f.dir.path.join("artifacts");
    eventually("no instance and no artifacts folder left", || {
        f.instances() == 0 && std::fs::read_dir(&artifacts).unwrap().next().is_none()
    });
    f.assert_clean("pika-managed-agents");
}

#[test]
fn a_hung_delete_is_cut_at_the_command_timeout_the_run_ends_and_the_retry_cleans_up() {
    let f = Fake::new();
    let block = f.dir.path.join("delete-blocked");
    std::fs::write(&block, "").unwrap();
    f.write(
        "knobs.json",
        serde_json::json!({"delete_blocked_by": block.as_str()}),
    );
    let out = f
        .pikaci(&["run"])
        .env("PIKACI_REMOTE_LINUX_VM_INCUS_COMMAND_TIMEOUT_SECS", "2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let job = &only_record(&f.dir.path.join("state")).jobs[0];
    assert_eq!(job.status, RunStatus::Passed);
    let msg = job.message.as_deref().unwrap();
    assert!(
        msg.contains("cleanup failed") && msg.contains("did not finish within 2s"),
        "{msg}"
    );
    assert_eq!(f.instances(), 1, "the delete still waits");
    // The delete was started again, detached; it ends once it may.
    std::fs::remove_file(&block).unwrap();
    let artifacts = f.dir.path.join("artifacts");
    eventually("no instance and no artifacts folder left", || {
        f.instances() == 0 && std::fs::read_dir(&artifacts).unwrap().next().is_none()
    });
    f.assert_clean("pika-managed-agents");
}

#[test]
fn pikaci_run_reports_a_vm_that_never_gets_ready() {
    let f = Fake::new();
    f.write("knobs.json", serde_json::json!({"never_ready": true}));
    let state = f.dir.path.join("state");
    let out = f.pikaci(&["run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let rec = only_record(&state);
    assert_eq!(rec.jobs[0].failure_kind, Some(FailureKind::Infrastructure));
    assert!(
        rec.jobs[0]
            .message
            .as_deref()
            .unwrap()
            .contains("never became ready")
    );
    f.assert_clean("pika-managed-agents");
}

#[test]
fn detached_commands_run_to_the_end() {
    let dir = TestDir::new();
    let marker = dir.path.join("done");
    ProcessRunner
        .spawn_detached(&IncusCommand::new("touch", [marker.as_str()]))
        .unwrap();
    for _ in 0..250 {
        if Utf8Path::new(&marker).exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the detached command did not run");
}

//! Faults a real Incus daemon cannot produce on demand, against the
//! `fake-incus` stand-in with real processes: a VM agent that never comes
//! up, one that comes up late, and a `start` that fails. Everything else is
//! tested against real Incus (`real_*.rs`); `conformance.rs` keeps the
//! stand-in honest.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
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

#[test]
fn pikaci_run_reports_a_vm_that_never_gets_ready() {
    let f = Fake::new();
    f.write("knobs.json", serde_json::json!({"never_ready": true}));
    let repo = f.dir.dir("repo");
    std::fs::write(
        repo.join("pikaci.toml"),
        "[[job]]\nid = \"vm\"\ncommand = \"true\"\nexecutor = \"incus\"\n",
    )
    .unwrap();
    let state = f.dir.path.join("state");
    let out = Command::new(pikaci_bin())
        .current_dir(&repo)
        .args(["--state-root", state.as_str(), "run"])
        .env("PIKACI_REMOTE_LINUX_VM_INCUS_PROGRAM", fake_incus())
        .env("PIKACI_REMOTE_LINUX_VM_INCUS_READINESS_TIMEOUT_SECS", "1")
        .env(
            "PIKACI_REMOTE_LINUX_VM_INCUS_ARTIFACTS_DIR",
            f.dir.path.join("artifacts"),
        )
        .env("FAKE_INCUS_STATE", &f.state)
        .env("FAKE_INCUS_GUEST_BIN", guest_bin())
        .output()
        .unwrap();
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

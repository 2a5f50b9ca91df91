//! `pikaci run` with `executor = "incus"` against `fake-incus`, through the
//! real `pikaci` binary: pass, fail, timeout and never-ready, and no
//! instance left behind in any case.

use std::path::PathBuf;
use std::process::{Command, Output};

use camino::Utf8PathBuf;
use pikaci_core::{FailureKind, RunRecord, RunStatus};

use crate::support::{TestDir, fake_incus, guest_bin};

const PIPELINE: &str = r#"
[[job]]
id = "pass"
command = "echo passing in $(pwd); cat README"
executor = "incus"

[[job]]
id = "fail"
command = "echo failing; exit 4"
executor = "incus"

[[job]]
id = "slow"
command = "echo slow; sleep 300"
timeout_secs = 1
executor = "incus"
"#;

struct Cli {
    dir: TestDir,
    repo: Utf8PathBuf,
    state_root: Utf8PathBuf,
    incus_state: Utf8PathBuf,
}

fn pikaci_bin() -> PathBuf {
    let p = guest_bin().with_file_name("pikaci");
    assert!(
        p.exists(),
        "{} is missing: `cargo test --workspace` builds it",
        p.display()
    );
    p
}

impl Cli {
    fn new() -> Self {
        let dir = TestDir::new();
        let repo = dir.dir("repo");
        std::fs::write(repo.join("pikaci.toml"), PIPELINE).unwrap();
        std::fs::write(repo.join("README"), "repository readme\n").unwrap();
        let state_root = dir.dir("state");
        let incus_state = dir.dir("incus-state");
        dir.dir("artifacts");
        Self {
            dir,
            repo,
            state_root,
            incus_state,
        }
    }

    fn run(&self, job: &str, extra_env: &[(&str, &str)]) -> Output {
        Command::new(pikaci_bin())
            .current_dir(&self.repo)
            .args([
                "--state-root",
                self.state_root.as_str(),
                "run",
                "--job",
                job,
            ])
            .env("PIKACI_REMOTE_LINUX_VM_INCUS_PROGRAM", fake_incus())
            .env(
                "PIKACI_REMOTE_LINUX_VM_INCUS_ARTIFACTS_DIR",
                self.dir.path.join("artifacts"),
            )
            .env("FAKE_INCUS_STATE", &self.incus_state)
            .env("FAKE_INCUS_GUEST_BIN", guest_bin())
            .envs(extra_env.iter().copied())
            .output()
            .unwrap()
    }

    fn record(&self) -> RunRecord {
        let runs: Vec<_> = std::fs::read_dir(self.state_root.join("runs"))
            .unwrap()
            .collect();
        assert_eq!(runs.len(), 1);
        let dir = runs.into_iter().next().unwrap().unwrap().path();
        serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap()
    }

    fn guest_log(&self, rec: &RunRecord, job: &str) -> String {
        let path = self
            .state_root
            .join("runs")
            .join(rec.run_id.as_str())
            .join("jobs")
            .join(job)
            .join("guest.log");
        std::fs::read_to_string(path).unwrap()
    }

    fn assert_no_instances(&self) {
        let out = Command::new(fake_incus())
            .args([
                "list",
                "--project",
                "pika-managed-agents",
                "--format",
                "json",
            ])
            .env("FAKE_INCUS_STATE", &self.incus_state)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
    }
}

#[test]
fn cli_e2e_pass() {
    let cli = Cli::new();
    let out = cli.run("pass", &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let rec = cli.record();
    assert_eq!(rec.status, RunStatus::Passed);
    let job = &rec.jobs[0];
    assert_eq!(
        job.remote_linux_vm_execution.as_ref().unwrap().backend,
        "incus"
    );
    assert!(cli.guest_log(&rec, "pass").contains("repository readme"));
    cli.assert_no_instances();
}

#[test]
fn cli_e2e_fail() {
    let cli = Cli::new();
    let out = cli.run("fail", &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let rec = cli.record();
    assert_eq!(rec.jobs[0].failure_kind, Some(FailureKind::TestFailure));
    assert_eq!(rec.jobs[0].exit_code, Some(4));
    cli.assert_no_instances();
}

#[test]
fn cli_e2e_timeout() {
    let cli = Cli::new();
    let out = cli.run("slow", &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let rec = cli.record();
    assert_eq!(rec.jobs[0].failure_kind, Some(FailureKind::Timeout));
    cli.assert_no_instances();
}

#[test]
fn cli_e2e_never_ready() {
    let cli = Cli::new();
    std::fs::write(
        cli.incus_state.join("knobs.json"),
        r#"{"never_ready": true}"#,
    )
    .unwrap();
    let out = cli.run(
        "pass",
        &[("PIKACI_REMOTE_LINUX_VM_INCUS_READINESS_TIMEOUT_SECS", "1")],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let rec = cli.record();
    assert_eq!(rec.jobs[0].failure_kind, Some(FailureKind::Infrastructure));
    assert!(
        rec.jobs[0]
            .message
            .as_deref()
            .unwrap()
            .contains("never became ready")
    );
    cli.assert_no_instances();
}

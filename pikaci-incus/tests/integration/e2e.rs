//! The executor with the real process runner against `fake-incus`: each
//! outcome, the logs and phases, and the instance gone afterwards every time.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::engine::{Executor, JobContext, JobOutcome, SystemClock, VecSink};
use pikaci_core::{ExecutorKind, FailureKind, JobId, JobSpec, RunId, RunStatus};
use pikaci_incus::{
    IncusExecutor, IncusSettings, IncusSettingsBuilder, ProcessRunner, gc_instances,
};
use tokio_util::sync::CancellationToken;

use crate::support::{TestDir, fake_incus, guest_bin, pids_with_argv};

struct Env {
    dir: TestDir,
    state: Utf8PathBuf,
    snapshot: Utf8PathBuf,
}

struct Ran {
    outcome: JobOutcome,
    host: String,
    guest: String,
}

impl Ran {
    fn phases(&self) -> Vec<String> {
        let exec = self
            .outcome
            .remote_linux_vm_execution
            .as_ref()
            .expect("phases recorded");
        assert_eq!(exec.backend, "incus");
        exec.phases.iter().map(|p| p.phase.clone()).collect()
    }
}

fn job(id: &str, command: &str, timeout_secs: u64) -> JobSpec {
    JobSpec {
        id: id.parse::<JobId>().unwrap(),
        description: id.into(),
        command: command.into(),
        timeout_secs,
        executor: ExecutorKind::Incus,
        run_as_root: false,
        writable_workspace: false,
        env: BTreeMap::new(),
        needs: Vec::new(),
        max_log_bytes: pikaci_core::DEFAULT_MAX_LOG_BYTES,
    }
}

impl Env {
    fn new() -> Self {
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

    fn settings(&self) -> IncusSettingsBuilder {
        IncusSettings::builder()
            .program(fake_incus().to_str().unwrap())
            .artifacts_root(self.dir.path.join("artifacts"))
            .readiness_timeout(Duration::from_secs(10))
            .readiness_interval(Duration::from_millis(100))
            .launch_grace(Duration::from_secs(10))
            .client_env("FAKE_INCUS_STATE", self.state.as_str())
            .client_env("FAKE_INCUS_GUEST_BIN", guest_bin().to_str().unwrap())
    }

    fn write(&self, file: &str, json: serde_json::Value) {
        std::fs::write(self.state.join(file), json.to_string()).unwrap();
    }

    async fn run(&self, settings: IncusSettings, job: &JobSpec, cancel: CancellationToken) -> Ran {
        let exec = IncusExecutor::new(settings);
        let run_id: RunId = "20260324T161238Z-1a2b3c4d".parse().unwrap();
        let (host, guest) = (VecSink::default(), VecSink::default());
        let (mut h, mut g) = (host.clone(), guest.clone());
        let outcome = exec
            .execute(JobContext {
                run_id: &run_id,
                job,
                workspace: &self.snapshot,
                source_root: Utf8Path::new("/src"),
                host_log: &mut h,
                guest_log: &mut g,
                timeout: Duration::from_secs(job.timeout_secs),
                cancel,
                clock: &SystemClock,
            })
            .await;
        let text = |s: &VecSink| String::from_utf8_lossy(&s.0.lock().unwrap()).into_owned();
        Ran {
            outcome,
            host: text(&host),
            guest: text(&guest),
        }
    }

    /// Instance names the fake holds in `project`.
    fn instances(&self, project: &str) -> Vec<String> {
        let out = Command::new(fake_incus())
            .args(["list", "--project", project, "--format", "json"])
            .env("FAKE_INCUS_STATE", &self.state)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
        list.iter()
            .map(|i| i["name"].as_str().unwrap().to_owned())
            .collect()
    }

    fn assert_no_instances(&self) {
        assert!(
            self.instances("pika-managed-agents").is_empty(),
            "an instance was left behind"
        );
        let left: Vec<_> = std::fs::read_dir(self.dir.path.join("artifacts"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "artifacts folder left behind: {left:?}");
    }

    /// The subcommands the fake received, in order.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.state.join("calls.log"))
            .unwrap()
            .lines()
            .map(|l| {
                let argv: Vec<String> = serde_json::from_str(l).unwrap();
                let end = argv
                    .iter()
                    .position(|a| a == "--project")
                    .unwrap_or(argv.len());
                argv[..end].join(" ")
            })
            .collect()
    }
}

#[tokio::test]
async fn a_passing_job_runs_in_the_stand_in_and_leaves_nothing() {
    let env = Env::new();
    let job = job(
        "check",
        "echo hello from $(id -u); cat README; echo done >&2",
        60,
    );
    let ran = env
        .run(env.settings().build(), &job, CancellationToken::new())
        .await;
    assert_eq!(
        ran.outcome.status,
        RunStatus::Passed,
        "{:?}\n{}",
        ran.outcome,
        ran.host
    );
    assert_eq!(ran.outcome.exit_code, Some(0));
    assert!(
        ran.guest.contains("hello from 1000\nsnapshot file\ndone\n"),
        "{}",
        ran.guest
    );
    assert!(
        ran.host
            .contains("fake-incus init --project pika-managed-agents pikaci/dev pikaci-check-")
    );
    assert!(ran.host.contains("== wait_ready"));
    assert_eq!(
        ran.phases(),
        [
            "delete_stale",
            "prepare_artifacts",
            "init_instance",
            "add_devices",
            "start_instance",
            "wait_ready",
            "launch_guest",
            "collect_artifacts",
            "delete_instance"
        ]
    );
    assert_eq!(
        env.calls(),
        [
            "delete",
            "init",
            "config device add",
            "config device add",
            "start",
            "exec",
            "exec",
            "file pull",
            "delete"
        ]
    );
    env.assert_no_instances();
}

#[tokio::test]
async fn a_failing_command_is_a_test_failure() {
    let env = Env::new();
    let ran = env
        .run(
            env.settings().build(),
            &job("fails", "echo about to fail; exit 3", 60),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(
        ran.outcome.failure_kind,
        Some(FailureKind::TestFailure),
        "{:?}",
        ran.outcome
    );
    assert_eq!(ran.outcome.exit_code, Some(3));
    assert!(ran.guest.contains("about to fail"));
    env.assert_no_instances();
}

#[tokio::test]
async fn a_job_past_its_timeout_is_killed_and_reported() {
    let env = Env::new();
    let ran = env
        .run(
            env.settings().build(),
            &job("slow", "echo start; sleep 300", 1),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(
        ran.outcome.failure_kind,
        Some(FailureKind::Timeout),
        "{:?}",
        ran.outcome
    );
    assert!(ran.guest.contains("start\n"));
    assert!(ran.guest.contains("timed out after 1s"));
    env.assert_no_instances();
}

#[tokio::test]
async fn an_instance_that_never_becomes_ready_is_infrastructure() {
    let env = Env::new();
    env.write("knobs.json", serde_json::json!({"never_ready": true}));
    let settings = env
        .settings()
        .readiness_timeout(Duration::from_secs(1))
        .build();
    let ran = env
        .run(
            settings,
            &job("never", "true", 60),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(ran.outcome.failure_kind, Some(FailureKind::Infrastructure));
    let msg = ran.outcome.message.clone().unwrap();
    assert!(msg.contains("never became ready within 1s"), "{msg}");
    assert!(msg.contains("VM agent isn't currently running"), "{msg}");
    assert!(ran.guest.is_empty());
    env.assert_no_instances();
}

#[tokio::test]
async fn an_agent_that_comes_up_late_is_waited_for() {
    let env = Env::new();
    env.write("knobs.json", serde_json::json!({"ready_after_probes": 3}));
    let ran = env
        .run(
            env.settings().build(),
            &job("late", "echo ok", 60),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(ran.outcome.status, RunStatus::Passed, "{}", ran.host);
    assert!(ran.host.contains("ready after 4 probe(s)"), "{}", ran.host);
    env.assert_no_instances();
}

#[tokio::test]
async fn a_missing_image_is_infrastructure_naming_the_step() {
    let env = Env::new();
    env.write(
        "world.json",
        serde_json::json!({"projects": ["pika-managed-agents"], "images": {},
            "profiles": ["default", "pika-agent-dev"], "storage_pools": ["default"]}),
    );
    let ran = env
        .run(
            env.settings().build(),
            &job("noimage", "true", 60),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(ran.outcome.failure_kind, Some(FailureKind::Infrastructure));
    let msg = ran.outcome.message.clone().unwrap();
    assert!(
        msg.contains("init_instance") && msg.contains("Image not found"),
        "{msg}"
    );
    assert!(!env.calls().contains(&"start".to_owned()));
    env.assert_no_instances();
}

#[tokio::test]
async fn a_wrong_project_is_infrastructure() {
    let env = Env::new();
    let settings = env.settings().project("no-such-project").build();
    let ran = env
        .run(settings, &job("proj", "true", 60), CancellationToken::new())
        .await;
    assert_eq!(ran.outcome.failure_kind, Some(FailureKind::Infrastructure));
    assert!(ran.outcome.message.unwrap().contains("Project not found"));
}

#[tokio::test]
async fn a_stale_instance_of_the_same_name_is_replaced() {
    let env = Env::new();
    let settings = env.settings().build();
    let j = job("again", "echo second", 60);
    let run_id: RunId = "20260324T161238Z-1a2b3c4d".parse().unwrap();
    let name = pikaci_incus::InstanceName::for_job("pikaci", &run_id, &j.id);
    let status = Command::new(fake_incus())
        .args([
            "init",
            "--project",
            "pika-managed-agents",
            "pikaci/dev",
            name.as_str(),
            "--vm",
        ])
        .env("FAKE_INCUS_STATE", &env.state)
        .status()
        .unwrap();
    assert!(status.success());
    let ran = env.run(settings, &j, CancellationToken::new()).await;
    assert_eq!(ran.outcome.status, RunStatus::Passed, "{}", ran.host);
    env.assert_no_instances();
}

#[tokio::test]
async fn cancel_kills_the_guest_and_deletes_the_instance() {
    let env = Env::new();
    // A command line no other test uses, to find the job's process in /proc.
    let marker = ["sleep", "3171"];
    let j = job("cancelme", "echo running; sleep 3171", 600);
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        while pids_with_argv(&marker).is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        trigger.cancel();
    });
    let ran = env.run(env.settings().build(), &j, cancel).await;
    assert_eq!(
        ran.outcome.failure_kind,
        Some(FailureKind::Cancelled),
        "{:?}",
        ran.outcome
    );
    assert_eq!(
        ran.outcome.message.as_deref(),
        Some("cancelled during launch_guest")
    );
    assert!(ran.guest.contains("running\n"), "{}", ran.guest);
    for _ in 0..100 {
        if pids_with_argv(&marker).is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        pids_with_argv(&marker).is_empty(),
        "the job's process survived the delete"
    );
    env.assert_no_instances();
}

#[tokio::test]
async fn gc_deletes_only_old_instances_with_our_prefix() {
    let env = Env::new();
    for name in ["pikaci-leftover-1", "other-vm"] {
        let ok = Command::new(fake_incus())
            .args([
                "init",
                "--project",
                "pika-managed-agents",
                "pikaci/dev",
                name,
                "--vm",
            ])
            .env("FAKE_INCUS_STATE", &env.state)
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let settings = env.settings().build();
    let hour = Duration::from_secs(3600);
    let now = jiff::Timestamp::now();
    let young = gc_instances(&settings, &ProcessRunner, hour, now)
        .await
        .unwrap();
    assert_eq!(young.kept.len(), 1);
    assert!(young.deleted.is_empty());
    let later = now
        .checked_add(jiff::SignedDuration::from_hours(2))
        .unwrap();
    let old = gc_instances(&settings, &ProcessRunner, hour, later)
        .await
        .unwrap();
    assert_eq!(old.deleted.len(), 1);
    assert_eq!(old.deleted[0].as_str(), "pikaci-leftover-1");
    assert_eq!(env.instances("pika-managed-agents"), ["other-vm"]);
}

#[test]
fn detached_commands_run_to_the_end() {
    use pikaci_incus::{CommandRunner, IncusCommand};
    let dir = TestDir::new();
    let marker = dir.path.join("done");
    ProcessRunner
        .spawn_detached(&IncusCommand::new("touch", [marker.as_str()]))
        .unwrap();
    for _ in 0..250 {
        if marker.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the detached command did not run");
}

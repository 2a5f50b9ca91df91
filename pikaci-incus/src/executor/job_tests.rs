//! Executor behaviour against the recording fake runner, tokio time paused.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use camino::Utf8Path;
use futures::FutureExt;
use jiff::Timestamp;
use pikaci_core::{
    Clock,
    engine::{Deferred, Executor, JobContext, JobOutcome},
    process::VecSink,
};
use pikaci_core::{ExecutorKind, FailureKind, JobSpec, RunId, RunStatus};
use tokio_util::sync::CancellationToken;

use super::IncusExecutor;
use crate::command::IncusCommand;
use crate::runner::{CallKind, FakeReply, RecordedCall, RecordingRunner};
use crate::settings::IncusSettings;

/// A clock that follows tokio's (paused) time from a fixed start.
struct TokioClock {
    base: Timestamp,
    start: tokio::time::Instant,
}

impl TokioClock {
    fn new() -> Self {
        Self {
            base: "2026-03-24T16:12:38Z".parse().unwrap(),
            start: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        let elapsed = jiff::SignedDuration::try_from(self.start.elapsed()).unwrap();
        self.base.checked_add(elapsed).unwrap()
    }
}

fn job() -> JobSpec {
    JobSpec {
        description: "tests".into(),
        timeout_secs: 600,
        executor: ExecutorKind::Incus,
        ..JobSpec::for_test("test", "cargo test")
    }
}

fn settings() -> IncusSettings {
    IncusSettings::builder()
        .readiness_timeout(Duration::from_secs(30))
        .readiness_interval(Duration::from_secs(2))
        .launch_grace(Duration::from_secs(10))
        .artifacts_root("/tmp/art")
        .build()
}

const PASSED: &str = r#"{"status":"passed","exit_code":0,"finished_at":"2026-03-24T16:20:00Z","message":"exit code 0"}"#;

/// The subcommand a fake reply is keyed on: `init`, `exec`, `file`, ... for
/// incus, the program for host commands; the probe and the launch are both
/// `exec` and are told apart by their last word.
fn key(cmd: &IncusCommand) -> String {
    let last = cmd.args.last().map_or("", String::as_str);
    if cmd.program == "cat" {
        return if last.ends_with("result.json") {
            "pull-result".into()
        } else {
            "pull-log".into()
        };
    }
    if cmd.program != "incus" {
        return cmd.program.clone();
    }
    match cmd.args[0].as_str() {
        "exec" if last == "true" => "probe".into(),
        "exec" if last == "ro" || last == "rw" => "push".into(),
        "exec" => "launch".into(),
        "file" if cmd.args[4].ends_with("result.json") => "pull-result".into(),
        "file" => "pull-log".into(),
        other => other.into(),
    }
}

/// A runner where everything succeeds except what `over` says.
fn runner(over: impl Fn(&str) -> Option<FakeReply> + Send + Sync + 'static) -> RecordingRunner {
    RecordingRunner::new(move |cmd| {
        let k = key(cmd);
        over(&k).unwrap_or_else(|| match k.as_str() {
            "launch" => FakeReply::stdout("hello from the guest\n").after(Duration::from_secs(5)),
            "pull-result" => FakeReply::stdout(PASSED),
            "delete" => FakeReply::fail(
                1,
                "Error: Failed checking instance exists: Instance not found",
            ),
            _ => FakeReply::ok(),
        })
    })
}

struct Ran {
    outcome: JobOutcome,
    host: String,
    guest: String,
    calls: Vec<RecordedCall>,
}

impl Ran {
    fn keys(&self, kind: CallKind) -> Vec<String> {
        self.calls
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| key(&c.command))
            .collect()
    }

    fn phases(&self) -> Vec<String> {
        let exec = self.outcome.remote_linux_vm_execution.as_ref().unwrap();
        assert_eq!(exec.backend, "incus");
        exec.phases.iter().map(|p| p.phase.clone()).collect()
    }

    /// The last run call is the final delete, then the artifacts removal.
    fn assert_deleted(&self) {
        let runs = self.keys(CallKind::Run);
        assert_eq!(runs[runs.len() - 2..], ["delete", "rm"], "{runs:?}");
        assert_eq!(self.phases().last().unwrap(), "delete_instance");
    }
}

async fn run_with(
    settings: IncusSettings,
    runner: RecordingRunner,
    cancel: CancellationToken,
) -> Ran {
    let exec = IncusExecutor::with_runner(settings, Arc::new(runner.clone()));
    let run_id: RunId = "20260324T161238Z-1a2b3c4d".parse().unwrap();
    let job = job();
    let host = VecSink::default();
    let guest = VecSink::default();
    let clock = TokioClock::new();
    let (mut h, mut g) = (host.clone(), guest.clone());
    let mut deferred = Deferred::default();
    let ctx = JobContext {
        run_id: &run_id,
        job: &job,
        workspace: Utf8Path::new("/state/runs/r/snapshot"),
        source_root: Utf8Path::new("/src"),
        host_log: &mut h,
        guest_log: &mut g,
        timeout: Duration::from_secs(job.timeout_secs),
        cancel,
        clock: &clock,
        deferred: &mut deferred,
    };
    assert_eq!(exec.kind(), ExecutorKind::Incus);
    let mut outcome = exec.execute(ctx).await;
    // What the engine does once the result is recorded.
    let report = deferred
        .run(&mut h, &clock)
        .await
        .expect("every job leaves its delete");
    report.amend(&mut outcome.message, &mut outcome.remote_linux_vm_execution);
    let text = |s: &VecSink| String::from_utf8(s.0.lock().unwrap().clone()).unwrap();
    Ran {
        outcome,
        host: text(&host),
        guest: text(&guest),
        calls: runner.calls(),
    }
}

async fn run(runner: RecordingRunner) -> Ran {
    run_with(settings(), runner, CancellationToken::new()).await
}

#[tokio::test(start_paused = true)]
async fn a_passing_job_runs_every_step_in_order() {
    let ran = run(runner(|_| None)).await;
    assert_eq!(ran.outcome.status, RunStatus::Passed, "{:?}", ran.outcome);
    assert_eq!(ran.outcome.exit_code, Some(0));
    assert_eq!(ran.guest, "hello from the guest\n");
    assert_eq!(
        ran.keys(CallKind::Run),
        [
            "delete",
            "rm",
            "mkdir",
            "init",
            "start",
            "probe",
            "pull-result",
            "delete",
            "rm"
        ]
    );
    assert_eq!(ran.keys(CallKind::Stream), ["launch"]);
    assert!(ran.keys(CallKind::Detached).is_empty());
    assert_eq!(
        ran.phases(),
        [
            "delete_stale",
            "prepare_artifacts",
            "init_instance",
            "start_instance",
            "wait_ready",
            "launch_guest",
            "collect_artifacts",
            "delete_instance"
        ]
    );
    let launch = &ran
        .outcome
        .remote_linux_vm_execution
        .as_ref()
        .unwrap()
        .phases[5];
    assert_eq!(launch.duration_ms, 5000, "phases are timed with the clock");
    assert!(
        ran.host
            .contains("$ incus init --project pika-managed-agents pikaci/dev pikaci-test-")
    );
    assert!(
        ran.host
            .contains("$ incus exec --project pika-managed-agents pikaci-test-")
    );
    assert!(ran.host.contains("'PIKACI_INCUS_GUEST_COMMAND=cargo test'"));
    assert!(ran.host.contains("== launch_guest"));
    assert!(
        ran.host
            .contains("stderr| Error: Failed checking instance exists")
    );
}

#[tokio::test(start_paused = true)]
async fn a_missing_image_is_an_infrastructure_failure_naming_the_step() {
    let ran = run(runner(|k| {
        (k == "init").then(|| FakeReply::fail(1, "Creating pikaci-x\nError: Image not found"))
    }))
    .await;
    assert_eq!(ran.outcome.failure_kind, Some(FailureKind::Infrastructure));
    let msg = ran.outcome.message.clone().unwrap();
    assert!(
        msg.contains("init_instance") && msg.contains("Image not found"),
        "{msg}"
    );
    assert!(msg.contains("`pikaci/dev`"), "{msg}");
    assert!(!ran.keys(CallKind::Run).contains(&"start".to_owned()));
    ran.assert_deleted();
}

#[tokio::test(start_paused = true)]
async fn an_instance_that_never_gets_ready_fails_after_the_bound() {
    let started = tokio::time::Instant::now();
    let ran = run(runner(|k| {
        (k == "probe").then(|| FakeReply::fail(1, "Error: VM agent isn't currently running"))
    }))
    .await;
    assert_eq!(ran.outcome.failure_kind, Some(FailureKind::Infrastructure));
    let msg = ran.outcome.message.clone().unwrap();
    assert!(msg.contains("never became ready within 30s"), "{msg}");
    assert!(msg.contains("VM agent isn't currently running"), "{msg}");
    let probes = ran
        .keys(CallKind::Run)
        .iter()
        .filter(|k| *k == "probe")
        .count();
    assert_eq!(probes, 16, "one probe at 0s and every 2s until 30s");
    assert_eq!(started.elapsed(), Duration::from_secs(30));
    assert!(ran.keys(CallKind::Stream).is_empty());
    ran.assert_deleted();
}

#[tokio::test(start_paused = true)]
async fn a_slow_probe_is_cut_at_the_deadline() {
    let ran = run(runner(|k| (k == "probe").then(FakeReply::hang))).await;
    let msg = ran.outcome.message.clone().unwrap();
    assert!(msg.contains("never became ready"), "{msg}");
    ran.assert_deleted();
}

#[tokio::test(start_paused = true)]
async fn the_guest_becomes_ready_after_some_probes() {
    let count = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let c = Arc::clone(&count);
    let ran = run(runner(move |k| {
        (k == "probe" && c.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 3)
            .then(|| FakeReply::fail(1, "Error: VM agent isn't currently running"))
    }))
    .await;
    assert_eq!(ran.outcome.status, RunStatus::Passed);
    assert!(ran.host.contains("ready after 4 probe(s)"), "{}", ran.host);
}

#[tokio::test(start_paused = true)]
async fn a_failing_command_is_a_test_failure_with_its_exit_code() {
    let ran = run(runner(|k| match k {
        "launch" => Some(FakeReply::fail(3, "")),
        "pull-result" => Some(FakeReply::stdout(
            r#"{"status":"failed","exit_code":3,"finished_at":"2026-03-24T16:20:00Z","message":"exit code 3"}"#,
        )),
        _ => None,
    }))
    .await;
    assert_eq!(ran.outcome.status, RunStatus::Failed);
    assert_eq!(ran.outcome.failure_kind, Some(FailureKind::TestFailure));
    assert_eq!(ran.outcome.exit_code, Some(3));
    ran.assert_deleted();
}

#[tokio::test(start_paused = true)]
async fn a_guest_timeout_is_a_timeout() {
    let ran = run(runner(|k| {
        (k == "pull-result").then(|| {
            FakeReply::stdout(
                r#"{"status":"timeout","exit_code":null,"finished_at":"2026-03-24T16:20:00Z","message":"timed out after 600s"}"#,
            )
        })
    }))
    .await;
    assert_eq!(ran.outcome.failure_kind, Some(FailureKind::Timeout));
    assert_eq!(ran.outcome.message.as_deref(), Some("timed out after 600s"));
}

#[tokio::test(start_paused = true)]
async fn a_guest_that_never_returns_hits_the_host_backstop() {
    let started = tokio::time::Instant::now();
    let ran = run(runner(|k| (k == "launch").then(FakeReply::hang))).await;
    assert_eq!(ran.outcome.failure_kind, Some(FailureKind::Timeout));
    assert!(
        ran.outcome
            .message
            .clone()
            .unwrap()
            .contains("600s plus 10s grace")
    );
    assert!(started.elapsed() >= Duration::from_secs(610));
    ran.assert_deleted();
}

#[tokio::test(start_paused = true)]
async fn cancel_stops_the_job_and_still_deletes() {
    let cancel = CancellationToken::new();
    let c = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(100)).await;
        c.cancel();
    });
    let ran = run_with(
        settings(),
        runner(|k| (k == "launch").then(FakeReply::hang)),
        cancel,
    )
    .await;
    assert_eq!(ran.outcome.failure_kind, Some(FailureKind::Cancelled));
    assert_eq!(
        ran.outcome.message.as_deref(),
        Some("cancelled during launch_guest")
    );
    assert!(ran.phases().contains(&"launch_guest".to_owned()));
    ran.assert_deleted();
}

#[tokio::test(start_paused = true)]
async fn a_dropped_job_future_deletes_through_detached_commands() {
    let runner = runner(|k| (k == "launch").then(FakeReply::hang));
    let exec = IncusExecutor::with_runner(settings(), Arc::new(runner.clone()));
    let run_id: RunId = "20260324T161238Z-1a2b3c4d".parse().unwrap();
    let job = job();
    let (mut h, mut g) = (VecSink::default(), VecSink::default());
    let clock = TokioClock::new();
    let ctx = JobContext {
        run_id: &run_id,
        job: &job,
        workspace: Utf8Path::new("/w"),
        source_root: Utf8Path::new("/src"),
        host_log: &mut h,
        guest_log: &mut g,
        timeout: Duration::from_secs(60),
        cancel: CancellationToken::new(),
        clock: &clock,
        deferred: &mut Deferred::default(),
    };
    let fut = exec.execute(ctx);
    let res = tokio::time::timeout(Duration::from_secs(20), fut).await;
    assert!(
        res.is_err(),
        "the launch hangs, so the future is still pending and gets dropped"
    );
    let detached: Vec<_> = runner
        .calls()
        .into_iter()
        .filter(|c| c.kind == CallKind::Detached)
        .map(|c| key(&c.command))
        .collect();
    assert_eq!(detached, ["delete", "rm"]);
}

#[tokio::test(start_paused = true)]
async fn a_panic_inside_the_job_still_deletes() {
    let runner = runner(|k| {
        (k == "start").then(|| FakeReply {
            panic: true,
            ..FakeReply::ok()
        })
    });
    let r = runner.clone();
    let result = std::panic::AssertUnwindSafe(run(r)).catch_unwind().await;
    assert!(result.is_err(), "the scripted panic propagates");
    let detached: Vec<_> = runner
        .calls()
        .into_iter()
        .filter(|c| c.kind == CallKind::Detached)
        .map(|c| key(&c.command))
        .collect();
    assert_eq!(detached, ["delete", "rm"]);
}

#[tokio::test(start_paused = true)]
async fn an_incus_error_during_launch_is_infrastructure() {
    let ran = run(runner(|k| match k {
        "launch" => Some(FakeReply::fail(1, "Error: Instance is not running")),
        "pull-result" => Some(FakeReply::fail(1, "Error: Instance is not running")),
        "pull-log" => Some(FakeReply::fail(1, "Error: Instance is not running")),
        _ => None,
    }))
    .await;
    assert_eq!(ran.outcome.failure_kind, Some(FailureKind::Infrastructure));
    let msg = ran.outcome.message.unwrap();
    assert!(
        msg.contains("launch_guest") && msg.contains("Instance is not running"),
        "{msg}"
    );
}

#[tokio::test(start_paused = true)]
async fn lost_stream_output_is_taken_from_artifacts() {
    let ran = run(runner(|k| match k {
        "launch" => Some(FakeReply::ok()),
        "pull-log" => Some(FakeReply::stdout("from /artifacts/guest.log\n")),
        _ => None,
    }))
    .await;
    assert_eq!(ran.outcome.status, RunStatus::Passed);
    assert_eq!(ran.guest, "from /artifacts/guest.log\n");
}

#[tokio::test(start_paused = true)]
async fn a_stale_delete_error_other_than_not_found_stops_the_job() {
    let count = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let c = Arc::clone(&count);
    let ran = run(runner(move |k| {
        (k == "delete" && c.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0)
            .then(|| FakeReply::fail(1, "Error: permission denied"))
    }))
    .await;
    assert_eq!(ran.outcome.failure_kind, Some(FailureKind::Infrastructure));
    assert!(
        ran.outcome
            .message
            .clone()
            .unwrap()
            .contains("delete_stale")
    );
    assert!(!ran.keys(CallKind::Run).contains(&"init".to_owned()));
    ran.assert_deleted();
}

#[tokio::test(start_paused = true)]
async fn a_failed_final_delete_is_reported() {
    let ran = run(runner(|k| {
        (k == "rm").then(|| FakeReply::fail(1, "rm: cannot remove"))
    }))
    .await;
    let msg = ran.outcome.message.unwrap();
    assert!(
        msg.contains("cleanup failed") && msg.contains("cannot remove"),
        "{msg}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_bad_job_env_key_fails_before_touching_incus() {
    let runner = runner(|_| None);
    let exec = IncusExecutor::with_runner(settings(), Arc::new(runner.clone()));
    let run_id: RunId = "20260324T161238Z-1a2b3c4d".parse().unwrap();
    let mut job = job();
    job.env.insert("NOT VALID".into(), "x".into());
    let (mut h, mut g) = (VecSink::default(), VecSink::default());
    let clock = TokioClock::new();
    let mut deferred = Deferred::default();
    let outcome = exec
        .execute(JobContext {
            run_id: &run_id,
            job: &job,
            workspace: Utf8Path::new("/w"),
            source_root: Utf8Path::new("/src"),
            host_log: &mut h,
            guest_log: &mut g,
            timeout: Duration::from_secs(60),
            cancel: CancellationToken::new(),
            clock: &clock,
            deferred: &mut deferred,
        })
        .await;
    assert!(deferred.take().is_none(), "no instance, nothing to delete");
    assert_eq!(outcome.failure_kind, Some(FailureKind::Infrastructure));
    assert!(runner.calls().is_empty());
}

#[test]
fn from_config_resolves_settings_with_env_overrides() {
    let config = crate::IncusConfig {
        project: Some("from-toml".into()),
        cpu: Some(3),
        ..crate::IncusConfig::default()
    };
    let env = BTreeMap::from([(
        "PIKACI_REMOTE_LINUX_VM_INCUS_PROJECT".to_owned(),
        "from-env".to_owned(),
    )]);
    let exec = IncusExecutor::from_config(&config, &env).unwrap();
    assert_eq!(exec.settings().project, "from-env");
    assert_eq!(exec.settings().cpu, 3);
    let bad = BTreeMap::from([(
        "PIKACI_REMOTE_LINUX_VM_INCUS_CPU".to_owned(),
        "lots".to_owned(),
    )]);
    assert!(IncusExecutor::from_config(&config, &bad).is_err());
}

#[tokio::test(start_paused = true)]
async fn a_hung_incus_command_is_cut_by_the_command_timeout() {
    let s = IncusSettings::builder()
        .command_timeout(Duration::from_secs(60))
        .build();
    let ran = run_with(
        s,
        runner(|k| (k == "init").then(FakeReply::hang)),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(ran.outcome.failure_kind, Some(FailureKind::Infrastructure));
    let msg = ran.outcome.message.clone().unwrap();
    assert!(
        msg.contains("init_instance") && msg.contains("did not finish within 60s"),
        "{msg}"
    );
    ran.assert_deleted();
}

#[tokio::test(start_paused = true)]
async fn a_hung_final_delete_is_retried_in_the_background() {
    let count = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let c = Arc::clone(&count);
    let s = IncusSettings::builder()
        .command_timeout(Duration::from_secs(60))
        .build();
    let ran = run_with(
        s,
        runner(move |k| {
            // The stale delete answers; the final one hangs.
            (k == "delete" && c.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1)
                .then(FakeReply::hang)
        }),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(ran.outcome.status, RunStatus::Passed);
    assert!(
        ran.outcome
            .message
            .clone()
            .unwrap()
            .contains("cleanup failed")
    );
    assert_eq!(ran.keys(CallKind::Detached), ["delete", "rm"]);
}

#[tokio::test(start_paused = true)]
async fn a_container_starts_without_probes() {
    let s = IncusSettings::builder()
        .instance_type(crate::InstanceType::Container)
        .artifacts_root("/tmp/art")
        .build();
    let ran = run_with(s, runner(|_| None), CancellationToken::new()).await;
    assert_eq!(ran.outcome.status, RunStatus::Passed, "{}", ran.host);
    let runs = ran.keys(CallKind::Run);
    assert!(!runs.contains(&"probe".to_owned()), "{runs:?}");
    assert!(!ran.phases().contains(&"wait_ready".to_owned()));
    let init = ran
        .calls
        .iter()
        .find(|c| key(&c.command) == "init")
        .unwrap();
    assert!(!init.command.args.contains(&"--vm".to_owned()));
    assert!(
        ran.host.contains("in container pikaci-test-"),
        "{}",
        ran.host
    );
}

#[tokio::test(start_paused = true)]
async fn a_remote_job_pushes_its_folders_and_pulls_the_result() {
    let s = IncusSettings::builder()
        .remote("far")
        .staged_build_dir("/srv/build")
        .readiness_interval(Duration::from_secs(2))
        .build();
    let ran = run_with(s, runner(|_| None), CancellationToken::new()).await;
    assert_eq!(ran.outcome.status, RunStatus::Passed, "{}", ran.host);
    assert_eq!(
        ran.keys(CallKind::Run),
        [
            "delete",
            "init",
            "start",
            "probe",
            "push",
            "push",
            "pull-result",
            "delete"
        ]
    );
    assert_eq!(
        ran.phases(),
        [
            "delete_stale",
            "init_instance",
            "start_instance",
            "wait_ready",
            "push_files",
            "launch_guest",
            "collect_artifacts",
            "delete_instance"
        ]
    );
    for call in &ran.calls {
        let line = call.command.display();
        assert!(
            !line.contains("source="),
            "no host folder is mounted: {line}"
        );
        assert!(
            call.command.program == "incus",
            "nothing but incus runs here: {line}"
        );
    }
    assert!(ran.host.contains("on remote `far`"), "{}", ran.host);
}

#[tokio::test(start_paused = true)]
async fn incus_errors_are_quoted_with_the_right_fix() {
    let cases = [
        (
            "Creating x\nError: Asked for a VM but image is of type container",
            "instance_type = \"container\"",
        ),
        (
            "Error: Image \"pikaci/dev\" not found",
            "import an image under the alias `pikaci/dev`",
        ),
        (
            "Error: Failed creating instance record: Instance type \"virtual-machine\" is not \
             supported on this server: vhost_vsock kernel module not loaded",
            "cannot run virtual machines (vhost_vsock kernel module not loaded)",
        ),
        (
            "Error: Requested profile \"pika-agent-dev\" doesn't exist",
            "incus profile create",
        ),
    ];
    for (said, fix) in cases {
        let ran = run(runner(move |k| {
            (k == "init").then(|| FakeReply::fail(1, said))
        }))
        .await;
        assert_eq!(ran.outcome.failure_kind, Some(FailureKind::Infrastructure));
        let msg = ran.outcome.message.clone().unwrap();
        let quoted = said.lines().last().unwrap();
        assert!(
            msg.contains("step init_instance failed") && msg.contains(quoted) && msg.contains(fix),
            "{msg}"
        );
        assert!(
            !msg.contains("Creating x"),
            "only Incus's error is quoted: {msg}"
        );
        ran.assert_deleted();
    }
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_daemon_is_named_at_the_first_step() {
    let ran = run(runner(|k| {
        (k == "delete").then(|| {
            FakeReply::fail(
                1,
                "Error: The incus daemon doesn't appear to be started (socket path: /var/lib/incus/unix.socket)",
            )
        })
    }))
    .await;
    let msg = ran.outcome.message.clone().unwrap();
    assert!(
        msg.contains("step delete_stale failed") && msg.contains("start the daemon"),
        "{msg}"
    );
}

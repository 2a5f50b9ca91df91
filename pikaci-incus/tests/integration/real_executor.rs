//! `IncusExecutor` with real processes against the real Incus daemon, in
//! system containers: each outcome, the guest environment, read-only
//! folders, what Incus says when something is missing, cancel, gc; and
//! after each test nothing of it is left.

use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use jiff::Timestamp;
use pikaci_core::{ExecutorKind, FailureKind, JobSpec, RunId, RunStatus};
use pikaci_core::{
    SystemClock,
    engine::{Deferred, Executor, JobContext, JobOutcome},
    process::VecSink,
};
use pikaci_incus::{IncusExecutor, IncusSettings, InstanceType, ProcessRunner, gc_instances};
use tokio_util::sync::CancellationToken;

use crate::support::pids_with_argv;
use crate::world::{PROJECT, REMOTE, Real, VM_IMAGE, daemon_runs_vms, incus};

pub(crate) struct Ran {
    pub(crate) outcome: JobOutcome,
    pub(crate) host: String,
    pub(crate) guest: String,
}

impl Ran {
    pub(crate) fn phases(&self) -> Vec<String> {
        let exec = self.outcome.remote_linux_vm_execution.as_ref().unwrap();
        exec.phases.iter().map(|p| p.phase.clone()).collect()
    }

    pub(crate) fn message(&self) -> String {
        self.outcome.message.clone().unwrap_or_default()
    }
}

pub(crate) fn job(id: &str, command: &str, timeout_secs: u64) -> JobSpec {
    JobSpec {
        description: id.into(),
        timeout_secs,
        executor: ExecutorKind::Incus,
        ..JobSpec::for_test(id, command)
    }
}

/// A snapshot folder with a README, as the engine leaves it: read-only.
pub(crate) fn snapshot(real: &Real) -> Utf8PathBuf {
    let snap = real.dir.dir("run/snapshot");
    std::fs::write(snap.join("README"), "snapshot file\n").unwrap();
    snap
}

/// Runs `job` as part of a fresh run.
pub(crate) async fn run_job(
    settings: IncusSettings,
    job: &JobSpec,
    workspace: &Utf8Path,
    cancel: CancellationToken,
) -> Ran {
    let run_id = RunId::new_at(Timestamp::now());
    run_job_in(&run_id, settings, job, workspace, cancel).await
}

/// Runs `job` as part of run `run_id`.
pub(crate) async fn run_job_in(
    run_id: &RunId,
    settings: IncusSettings,
    job: &JobSpec,
    workspace: &Utf8Path,
    cancel: CancellationToken,
) -> Ran {
    let exec = IncusExecutor::new(settings);
    let (host, guest) = (VecSink::default(), VecSink::default());
    let (mut h, mut g) = (host.clone(), guest.clone());
    let mut deferred = Deferred::default();
    let mut outcome = exec
        .execute(JobContext {
            run_id,
            job,
            workspace,
            source_root: Utf8Path::new("/src"),
            host_log: &mut h,
            guest_log: &mut g,
            timeout: Duration::from_secs(job.timeout_secs),
            cancel,
            clock: &SystemClock,
            deferred: &mut deferred,
        })
        .await;
    // The instance's delete, which an engine runs after recording the result.
    let report = deferred
        .run(&mut h, &SystemClock)
        .await
        .expect("every Incus job leaves its delete");
    report.amend(&mut outcome.message, &mut outcome.remote_linux_vm_execution);
    let text = |s: &VecSink| String::from_utf8_lossy(&s.0.lock().unwrap()).into_owned();
    Ran {
        outcome,
        host: text(&host),
        guest: text(&guest),
    }
}

#[tokio::test]
async fn a_job_passes_as_uid_1000_in_a_read_only_snapshot_with_its_environment() {
    let real = Real::new("pass");
    let snap = snapshot(&real);
    let j = job(
        "check",
        "echo hello from $(id -u); cat README; touch README 2>&1 || echo refused; \
         mkdir /workspace/snapshot/new 2>&1 || echo refused too; \
         touch $CARGO_HOME/ok $CARGO_TARGET_DIR/ok $XDG_CACHE_HOME/ok && echo caches writable; \
         echo \"$CARGO_INCREMENTAL/$CARGO_TERM_COLOR\"; sleep 1",
        60,
    );
    let settings = real.settings().build();
    let job_run =
        tokio::spawn(async move { run_job(settings, &j, &snap, CancellationToken::new()).await });
    // The default limits, as the daemon applied them.
    let prefix = real.prefix.clone();
    let instance = tokio::task::spawn_blocking(move || {
        let real = Real::attach(&prefix);
        real.wait_running(None)
    })
    .await
    .unwrap();
    let ran = job_run.await.unwrap();
    assert_eq!(instance["config"]["limits.cpu"], "2", "{instance:#}");
    assert_eq!(instance["config"]["limits.memory"], "4GiB", "{instance:#}");
    if let Some(limit) = host_memory_limit(instance["name"].as_str().unwrap()) {
        assert_eq!(limit, "4294967296");
    }
    assert_eq!(
        ran.outcome.status,
        RunStatus::Passed,
        "{:?}\n{}",
        ran.outcome,
        ran.host
    );
    assert_eq!(ran.outcome.exit_code, Some(0));
    for line in [
        "hello from 1000\n",
        "snapshot file\n",
        "Read-only file system\nrefused\n",
        "refused too\n",
        "caches writable\n",
        "0/never\n",
    ] {
        assert!(ran.guest.contains(line), "{line:?} not in:\n{}", ran.guest);
    }
    assert!(
        ran.host.contains("-c limits.cpu=2 -c limits.memory=4GiB"),
        "{}",
        ran.host
    );
    assert_eq!(
        ran.phases(),
        [
            "delete_stale",
            "prepare_artifacts",
            "init_instance",
            "start_instance",
            "launch_guest",
            "collect_artifacts",
            "delete_instance"
        ]
    );
    real.assert_clean();
}

#[tokio::test]
async fn root_is_root_and_a_failing_command_keeps_its_exit_code() {
    let real = Real::new("root");
    let snap = snapshot(&real);
    let mut j = job("asroot", "id -u; touch README || echo root refused too", 60);
    j.run_as_root = true;
    let ran = run_job(real.settings().build(), &j, &snap, CancellationToken::new()).await;
    assert_eq!(ran.outcome.status, RunStatus::Passed, "{}", ran.host);
    assert!(ran.guest.contains("\n0\n"), "{}", ran.guest);
    assert!(ran.guest.contains("root refused too"), "{}", ran.guest);

    let ran = run_job(
        real.settings().build(),
        &job("fails", "echo about to fail; exit 3", 60),
        &snap,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(
        ran.outcome.failure_kind,
        Some(FailureKind::TestFailure),
        "{}",
        ran.host
    );
    assert_eq!(ran.outcome.exit_code, Some(3));
    assert!(ran.guest.contains("about to fail"));
    real.assert_clean();
}

#[tokio::test]
async fn a_timeout_kills_the_guests_process_tree_before_the_delete() {
    let real = Real::new("tmo");
    let snap = snapshot(&real);
    // A witness outside the job's process group (setsid), in the same
    // container, looks for the job's background sleep half a second after
    // the timeout, while the guest still waits for output and nothing has
    // been deleted yet.
    let j = job(
        "slow",
        "sleep 3181 & m=$!; setsid sh -c \"sleep 2.5; kill -0 $m 2>/dev/null && echo witness: alive || echo witness: gone\" & \
         echo started; wait",
        2,
    );
    let marker = ["sleep", "3181"];
    let watcher = std::thread::spawn(move || {
        for _ in 0..2000 {
            if !pids_with_argv(&marker).is_empty() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the job's sleep never ran");
    });
    let ran = run_job(real.settings().build(), &j, &snap, CancellationToken::new()).await;
    watcher.join().unwrap();
    assert_eq!(
        ran.outcome.failure_kind,
        Some(FailureKind::Timeout),
        "{}",
        ran.host
    );
    assert!(ran.guest.contains("started\n"));
    assert!(
        ran.guest.contains("process group was killed"),
        "{}",
        ran.guest
    );
    assert!(
        ran.guest.contains("witness: gone\n"),
        "the guest killed the job's process tree itself, before the delete:\n{}",
        ran.guest
    );
    assert!(pids_with_argv(&marker).is_empty());
    real.assert_clean();
}

#[tokio::test]
async fn cancel_stops_the_job_and_deletes_the_instance() {
    let real = Real::new("cancel");
    let snap = snapshot(&real);
    let marker = ["sleep", "3191"];
    let j = job("cancelme", "echo running; sleep 3191", 600);
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        while pids_with_argv(&marker).is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        trigger.cancel();
    });
    let ran = run_job(real.settings().build(), &j, &snap, cancel).await;
    assert_eq!(
        ran.outcome.failure_kind,
        Some(FailureKind::Cancelled),
        "{}",
        ran.host
    );
    assert_eq!(ran.message(), "cancelled during launch_guest");
    // (Whether "running" reached guest.log before the cancel is a race here;
    // real_cli's signal tests wait for the line first.)
    assert!(
        pids_with_argv(&marker).is_empty(),
        "the job's process outlived the delete"
    );
    real.assert_clean();
}

#[tokio::test]
async fn a_stale_instance_of_the_same_name_is_replaced() {
    let real = Real::new("stale");
    let snap = snapshot(&real);
    let j = job("again", "echo second", 60);
    // The executor names instances after the run id, which run_job makes
    // fresh; so plant a stale one under the name a fixed run gets.
    let run_id: RunId = "20260324T161238Z-1a2b3c4d".parse().unwrap();
    let name = pikaci_incus::InstanceName::for_job(&real.prefix, &run_id, &j.id);
    let out = incus(&["init", "--project", PROJECT, &real.image, name.as_str()]);
    assert!(out.status.success(), "{out:?}");
    let outcome = run_job_in(
        &run_id,
        real.settings().build(),
        &j,
        &snap,
        CancellationToken::new(),
    )
    .await
    .outcome;
    assert_eq!(outcome.status, RunStatus::Passed, "{outcome:?}");
    real.assert_clean();
}

#[tokio::test]
async fn gc_deletes_only_old_instances_with_the_prefix_and_their_folders() {
    let real = Real::new("gc");
    let mine = format!("{}-leftover", real.prefix);
    // Starts like ours but lacks the `PREFIX-` gc looks for.
    let theirs = format!("{}x-other", real.prefix);
    for name in [&mine, &theirs] {
        let out = incus(&["init", "--project", PROJECT, &real.image, name]);
        assert!(out.status.success(), "{out:?}");
    }
    std::fs::create_dir_all(real.artifacts.join(&mine)).unwrap();
    let settings = real.settings().build();
    let hour = Duration::from_secs(3600);
    let now = Timestamp::now();
    let young = gc_instances(&settings, &ProcessRunner, hour, now)
        .await
        .unwrap();
    assert_eq!(young.kept.len(), 1, "{young:?}");
    assert!(young.deleted.is_empty());
    let later = now
        .checked_add(jiff::SignedDuration::from_hours(2))
        .unwrap();
    let old = gc_instances(&settings, &ProcessRunner, hour, later)
        .await
        .unwrap();
    assert_eq!(old.deleted.len(), 1, "{old:?}");
    assert_eq!(old.deleted[0].as_str(), mine);
    let left: Vec<_> = real
        .instances(None)
        .iter()
        .map(|i| i["name"].clone())
        .collect();
    assert_eq!(left, [serde_json::json!(theirs)]);
    assert!(
        incus(&["delete", "--project", PROJECT, &theirs, "--force"])
            .status
            .success()
    );
    real.assert_clean();
}

/// The memory limit of a container's cgroup as the host sees it (cgroup v1
/// or v2), when the host shows it where Incus puts it.
fn host_memory_limit(name: &str) -> Option<String> {
    let group = format!("lxc.payload.{PROJECT}_{name}");
    [
        format!("/sys/fs/cgroup/memory/{group}/memory.limit_in_bytes"),
        format!("/sys/fs/cgroup/{group}/memory.max"),
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .map(|v| v.trim().to_owned())
}

#[tokio::test]
async fn gc_on_a_remote_lists_and_deletes_there() {
    let real = Real::new("gcr");
    let name = format!("{}-leftover", real.prefix);
    let image = format!("{REMOTE}:{}", real.image);
    let target = format!("{REMOTE}:{name}");
    let out = incus(&["init", "--project", PROJECT, &image, &target]);
    assert!(out.status.success(), "{out:?}");
    let settings = real.settings().remote(REMOTE).build();
    let later = Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(1))
        .unwrap();
    let report = gc_instances(&settings, &ProcessRunner, Duration::ZERO, later)
        .await
        .unwrap();
    let deleted: Vec<_> = report.deleted.iter().map(|n| n.to_string()).collect();
    assert_eq!(deleted, [name], "{report:?}");
    real.assert_clean();
}

/// Runs `true` with `settings` and returns the failure message.
async fn failure(real: &Real, settings: IncusSettings) -> String {
    let snap = real.dir.dir("run/snapshot");
    let ran = run_job(
        settings,
        &job("broken", "true", 60),
        &snap,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(
        ran.outcome.failure_kind,
        Some(FailureKind::Infrastructure),
        "{}",
        ran.host
    );
    ran.message()
}

#[tokio::test]
async fn what_incus_says_is_quoted_with_the_right_fix() {
    let real = Real::new("errs");
    let s = || real.settings();
    let cases = [
        (
            "wrong image type",
            s().instance_type(InstanceType::Vm).build(),
            "Asked for a VM but image is of type container",
            "instance_type = \"container\"",
        ),
        (
            "missing image",
            s().image_alias("pikaci/no-such-image").build(),
            "Image \"pikaci/no-such-image\" not found",
            "import an image under the alias `pikaci/no-such-image` into project `pikaci-tests`",
        ),
        (
            "missing project",
            s().project("pikaci-no-such-project").build(),
            "Project not found",
            "incus project create pikaci-no-such-project",
        ),
        (
            "missing profile",
            s().profile("pikaci-no-such-profile").build(),
            "Requested profile \"pikaci-no-such-profile\" doesn't exist",
            "incus profile create --project pikaci-tests pikaci-no-such-profile",
        ),
        (
            "missing storage pool",
            s().storage_pool("pikaci-no-such-pool").build(),
            "Storage pool not found",
            "incus storage create pikaci-no-such-pool dir",
        ),
        (
            "daemon not reachable",
            s().client_env("INCUS_DIR", "/nonexistent/incus").build(),
            "The incus daemon doesn't appear to be started",
            "start the daemon",
        ),
        (
            "not a cluster",
            s().target("pikaci-member").build(),
            "Target only allowed when clustered",
            "needs an Incus cluster",
        ),
        (
            "no incus client",
            s().program("/nonexistent/bin/incus").build(),
            "could not run `/nonexistent/bin/incus`",
            "apt-get install -t bookworm-backports incus",
        ),
    ];
    for (what, settings, said, fix) in cases {
        let msg = failure(&real, settings).await;
        assert!(
            msg.contains(said),
            "{what}: Incus's words are quoted: {msg}"
        );
        assert!(msg.contains(fix), "{what}: the fix is given: {msg}");
    }
    real.assert_clean();
}

#[tokio::test]
async fn a_vm_where_the_daemon_runs_none_is_refused_with_the_container_fix() {
    let real = Real::new("novm");
    let settings = real
        .settings()
        .instance_type(InstanceType::Vm)
        .image_alias(VM_IMAGE)
        .readiness_timeout(Duration::from_secs(5))
        .build();
    let msg = failure(&real, settings).await;
    if daemon_runs_vms() {
        // A VM host creates the VM; its empty disk never boots an agent.
        assert!(msg.contains("never became ready"), "{msg}");
    } else {
        assert!(
            msg.contains("Instance type \"virtual-machine\" is not supported on this server"),
            "{msg}"
        );
        assert!(msg.contains("instance_type = \"container\""), "{msg}");
    }
    real.assert_clean();
}

/// A profile of this test's own, deleted when dropped.
struct TempProfile(String);

impl Drop for TempProfile {
    fn drop(&mut self) {
        let _ = incus(&["profile", "delete", "--project", PROJECT, &self.0]);
    }
}

#[tokio::test]
async fn cargo_builds_a_crate_in_the_read_only_snapshot() {
    let real = Real::new("cargo");
    // The image has no toolchain: a profile lends the host's, read-only,
    // as an operator would for a container image (docs/incus-testing.md).
    let sysroot = std::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc runs");
    let sysroot = String::from_utf8(sysroot.stdout).unwrap().trim().to_owned();
    let profile = TempProfile(format!("{}-rust", real.prefix));
    let ok = |args: &[&str]| {
        let out = incus(args);
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    ok(&["profile", "create", "--project", PROJECT, &profile.0]);
    for (dev, source, path) in [
        ("host-usr", "/usr", "/usr"),
        (
            "host-alternatives",
            "/etc/alternatives",
            "/etc/alternatives",
        ),
        ("rust", sysroot.as_str(), "/opt/rust"),
    ] {
        let source = format!("source={source}");
        let path = format!("path={path}");
        ok(&[
            "profile",
            "device",
            "add",
            "--project",
            PROJECT,
            &profile.0,
            dev,
            "disk",
            &source,
            &path,
            "readonly=true",
        ]);
    }
    let snap = real.dir.dir("run/snapshot");
    std::fs::create_dir_all(snap.join("src")).unwrap();
    std::fs::write(
        snap.join("Cargo.toml"),
        "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(
        snap.join("Cargo.lock"),
        "version = 4\n\n[[package]]\nname = \"hello\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::write(
        snap.join("src/main.rs"),
        "fn main() { println!(\"hello from a guest build\"); }\n",
    )
    .unwrap();
    let j = job(
        "build",
        "export PATH=/opt/rust/bin:$PATH; cargo build --locked --offline && \"$CARGO_TARGET_DIR/debug/hello\"",
        600,
    );
    let ran = run_job(
        real.settings().profile(&profile.0).build(),
        &j,
        &snap,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(
        ran.outcome.status,
        RunStatus::Passed,
        "{}\n{}",
        ran.guest,
        ran.host
    );
    assert!(
        ran.guest
            .contains("Compiling hello v0.1.0 (/workspace/snapshot)"),
        "{}",
        ran.guest
    );
    assert!(
        ran.guest.contains("hello from a guest build"),
        "{}",
        ran.guest
    );
    assert!(
        !snap.join("target").exists(),
        "nothing was written into the snapshot"
    );
    real.assert_clean();
}

//! The real `pikaci` binary with `executor = "incus"` against the real Incus
//! daemons: outcomes, parallel jobs, live logs, signals, gc, a remote over
//! HTTPS, a cluster member, ssh, and `pikaci incus doctor`. After each test
//! nothing of it is left.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pikaci_core::process::exit_cleanup::EXIT_CLEANUP_ARG;
use pikaci_core::{FailureKind, RunRecord, RunStatus};

use crate::sshd::{HOST_ALIAS, Sshd};
use crate::support::{children_of, gone_soon, guest_bin, only_record, pids_mentioning};
use crate::world::{MEMBER, PROJECT, REMOTE, Real, host_disks, image_fingerprints};

pub(crate) fn pikaci_bin() -> PathBuf {
    let p = guest_bin().with_file_name("pikaci");
    assert!(
        p.exists(),
        "{} is missing: `cargo test --workspace` builds it (or `cargo build -p pikaci-cli`)",
        p.display()
    );
    p
}

struct Cli {
    real: Real,
    repo: Utf8PathBuf,
    state: Utf8PathBuf,
}

impl Cli {
    /// A repository whose pikaci.toml has `[incus]` for the test world and
    /// then `jobs`.
    fn new(tag: &str, incus_extra: &str, jobs: &str) -> Self {
        let real = Real::new(tag);
        let repo = real.dir.dir("repo");
        let pipeline = format!(
            "[incus]\nproject = \"{PROJECT}\"\nimage_alias = \"{}\"\ninstance_type = \"container\"\n\
             instance_prefix = \"{}\"\n{incus_extra}\n{jobs}",
            real.image, real.prefix
        );
        std::fs::write(repo.join("pikaci.toml"), pipeline).unwrap();
        std::fs::write(repo.join("README"), "repository readme\n").unwrap();
        let state = real.dir.dir("state");
        Self { real, repo, state }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new(pikaci_bin());
        c.current_dir(&self.repo)
            .arg("--state-root")
            .arg(&self.state)
            .env(
                "PIKACI_REMOTE_LINUX_VM_INCUS_ARTIFACTS_DIR",
                &self.real.artifacts,
            )
            .env_remove("INCUS_DIR");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.cmd()
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn record(&self) -> RunRecord {
        only_record(&self.state)
    }

    fn log(&self, job: &str, file: &str) -> String {
        let Ok(runs) = std::fs::read_dir(self.state.join("runs")) else {
            return String::new();
        };
        runs.filter_map(|r| {
            std::fs::read_to_string(r.ok()?.path().join("jobs").join(job).join(file)).ok()
        })
        .collect()
    }

    /// Waits (bounded) until `job`'s guest.log holds `text`.
    fn wait_for_log(&self, job: &str, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.log(job, "guest.log").contains(text) {
            assert!(
                Instant::now() < deadline,
                "{text:?} never reached {job}'s guest.log"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const OUTCOMES: &str = r#"
[[job]]
id = "pass"
command = "echo passing as $(id -u) in $(pwd); cat README; touch README || echo write refused"
executor = "incus"

[[job]]
id = "fail"
command = "echo failing; exit 4"
executor = "incus"

[[job]]
id = "slow"
command = "echo slow; sleep 3221 & sleep 3222"
timeout_secs = 2
executor = "incus"

[[job]]
id = "root"
command = "echo root is $(id -u)"
run_as_root = true
executor = "incus"
"#;

#[test]
fn pass_fail_timeout_and_root_run_and_leave_nothing() {
    let cli = Cli::new("out", "", OUTCOMES);
    let out = cli.run(&["run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let rec = cli.record();
    let job = |id: &str| rec.jobs.iter().find(|j| j.id.as_str() == id).unwrap();
    assert_eq!(
        job("pass").status,
        RunStatus::Passed,
        "{}",
        cli.log("pass", "host.log")
    );
    assert_eq!(job("fail").failure_kind, Some(FailureKind::TestFailure));
    assert_eq!(job("fail").exit_code, Some(4));
    assert_eq!(job("slow").failure_kind, Some(FailureKind::Timeout));
    assert_eq!(job("root").status, RunStatus::Passed);
    let pass = cli.log("pass", "guest.log");
    assert!(
        pass.contains("passing as 1000 in /workspace/snapshot"),
        "{pass}"
    );
    assert!(pass.contains("repository readme"), "{pass}");
    assert!(
        pass.contains("Read-only file system\nwrite refused"),
        "{pass}"
    );
    assert!(cli.log("root", "guest.log").contains("root is 0"));
    assert!(
        cli.log("slow", "guest.log")
            .contains("process group was killed")
    );
    for j in &rec.jobs {
        let exec = j.remote_linux_vm_execution.as_ref().unwrap();
        assert_eq!(exec.backend, "incus");
    }
    assert!(pikaci_incus::hint::diagnose(&text(&out)).is_none());
    cli.real.assert_clean();
}

#[test]
fn three_jobs_run_in_three_instances_at_once() {
    let jobs: String = (1..=3)
        .map(|i| format!("[[job]]\nid = \"p{i}\"\ncommand = \"sleep 5\"\nexecutor = \"incus\"\n"))
        .collect();
    let cli = Cli::new("par", "", &jobs);
    let out = cli.run(&["run", "--jobs", "3"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rec = cli.record();
    let launches: Vec<_> = rec
        .jobs
        .iter()
        .map(|j| {
            let exec = j.remote_linux_vm_execution.as_ref().unwrap();
            let p = exec
                .phases
                .iter()
                .find(|p| p.phase == "launch_guest")
                .unwrap();
            (p.started_at, p.finished_at)
        })
        .collect();
    let latest_start = launches.iter().map(|l| l.0).max().unwrap();
    let earliest_end = launches.iter().map(|l| l.1).min().unwrap();
    assert!(
        latest_start < earliest_end,
        "the three jobs' guests ran at the same time: {launches:?}"
    );
    cli.real.assert_clean();
}

#[test]
fn the_next_job_starts_while_the_finished_instance_is_deleted() {
    let jobs: String = ["a", "b"]
        .iter()
        .map(|id| {
            format!("[[job]]\nid = \"{id}\"\ncommand = \"echo {id}\"\nexecutor = \"incus\"\n")
        })
        .collect();
    let cli = Cli::new("bg", "", &jobs);
    let out = cli.run(&["run", "--jobs", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rec = cli.record();
    let delete = |i: usize| {
        let exec = rec.jobs[i].remote_linux_vm_execution.as_ref().unwrap();
        let last = exec.phases.last().unwrap();
        assert_eq!(last.phase, "delete_instance", "{exec:?}");
        (last.started_at, last.finished_at)
    };
    let (a, b) = (&rec.jobs[0], &rec.jobs[1]);
    let a_finished = a.finished_at.unwrap();
    let (a_delete_start, a_delete_end) = delete(0);
    // a's result is recorded before its delete starts; b starts (one job at
    // a time) before that delete has ended.
    assert!(
        a_finished <= a_delete_start,
        "{a_finished} {a_delete_start}"
    );
    assert!(
        b.started_at < a_delete_end,
        "b started at {}, a's delete ended at {a_delete_end}",
        b.started_at
    );
    assert!(
        rec.finished_at.unwrap() >= delete(1).1,
        "the run ends after the last delete"
    );
    let host = cli.log("a", "host.log");
    let result_line = host.find("[pikaci] job a passed").unwrap();
    let delete_line = host.find("== delete_instance").unwrap();
    let cleaned_line = host.find("[pikaci] job a cleaned up").unwrap();
    assert!(
        result_line < delete_line && delete_line < cleaned_line,
        "{host}"
    );
    cli.real.assert_clean();
}

const LONG: &str = r#"
[[job]]
id = "long"
command = "echo first line; sleep 3231"
executor = "incus"
"#;

/// Output shows up in guest.log while the job runs; the signal cancels the
/// run, which deletes the instance before pikaci exits.
fn signal_cancels(signal: Signal, tag: &str, exit: i32, reason: &str) {
    let cli = Cli::new(tag, "", LONG);
    let mut child = cli.spawn(&["run"]);
    cli.wait_for_log("long", "first line\n");
    let running = cli.real.instances(None);
    assert_eq!(running.len(), 1, "the job's instance is up while it runs");
    let rec = cli.record();
    assert_eq!(
        rec.jobs[0].status,
        RunStatus::Running,
        "the line arrived while the job ran"
    );
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
    let status = child.wait().unwrap();
    // 128 + the signal, as a shell reports it; the record says why.
    assert_eq!(status.code(), Some(exit));
    let rec = cli.record();
    assert_eq!(rec.jobs[0].failure_kind, Some(FailureKind::Cancelled));
    let why = rec.cancel_reason.clone().unwrap_or_default();
    assert!(why.contains(reason), "{why:?}");
    cli.real.assert_clean();
}

#[test]
fn ctrl_c_deletes_the_instance() {
    signal_cancels(Signal::SIGINT, "int", 130, "SIGINT");
}

#[test]
fn sigterm_deletes_the_instance() {
    signal_cancels(Signal::SIGTERM, "term", 143, "SIGTERM");
}

/// The name of the one instance the test's run has up.
fn only_instance(cli: &Cli) -> String {
    let running = cli.real.instances(None);
    assert_eq!(running.len(), 1, "{running:?}");
    running[0]["name"].as_str().unwrap().to_owned()
}

/// Waits (bounded: the watcher's delete, then the exec client's end) until
/// the test's instances are gone and no process names `instance`.
fn wait_until_gone(cli: &Cli, instance: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let left = cli.real.instances(None).len();
        let clients = pids_mentioning(instance);
        if left == 0 && clients.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "90 s after pikaci was killed: {left} instance(s) left, processes naming {instance}: {clients:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_sigkilled_pikaci_leaves_no_instance_and_no_incus_exec() {
    let cli = Cli::new("kill", "", LONG);
    let mut child = cli.spawn(&["run"]);
    cli.wait_for_log("long", "first line\n");
    let instance = only_instance(&cli);
    assert!(
        !pids_mentioning(&instance).is_empty(),
        "the job's `incus exec` client runs while the job does"
    );
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    let killed = Instant::now();
    child.wait().unwrap();
    // The exit-cleanup watcher deletes the instance, which ends the job's
    // command in it and the `incus exec` client here.
    wait_until_gone(&cli, &instance);
    eprintln!(
        "instance and `incus exec` client gone {:.2} s after the SIGKILL",
        killed.elapsed().as_secs_f64()
    );
    cli.real.assert_clean();
}

#[test]
fn after_sigkill_of_pikaci_and_its_watcher_incus_gc_removes_what_was_left() {
    let cli = Cli::new("gc", "", LONG);
    let mut child = cli.spawn(&["run"]);
    cli.wait_for_log("long", "first line\n");
    let pikaci = child.id() as i32;
    let cleanup_pids = pids_mentioning(EXIT_CLEANUP_ARG);
    let watchers: Vec<i32> = children_of(pikaci)
        .into_iter()
        .filter(|pid| cleanup_pids.contains(pid))
        .collect();
    assert_eq!(watchers.len(), 1, "one watcher per Incus job");
    // Killed first, so it never sees its pipe close.
    kill(Pid::from_raw(watchers[0]), Signal::SIGKILL).unwrap();
    assert!(gone_soon(watchers[0]));
    kill(Pid::from_raw(pikaci), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    assert_eq!(
        cli.real.instances(None).len(),
        1,
        "with its watcher killed too, the instance is left"
    );
    let out = cli.run(&["incus", "gc", "--older-than", "0s"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("deleted 1 instance(s)"),
        "{}",
        text(&out)
    );
    cli.real.assert_clean();
}

const REMOTE_JOB: &str = r#"
[[job]]
id = "far"
command = "echo as $(id -u); cat README; touch README || echo write refused; sleep 1"
executor = "incus"
"#;

/// Runs `REMOTE_JOB` on the remote; returns the instance as listed while
/// it ran, and the run's output.
fn run_on_remote(cli: &Cli) -> (serde_json::Value, Output) {
    let child = cli.spawn(&["run"]);
    let instance = cli.real.wait_running(Some(REMOTE));
    let out = child.wait_with_output().unwrap();
    (instance, out)
}

#[test]
fn a_remote_over_https_gets_the_snapshot_pushed_and_mounts_nothing() {
    let images_here = image_fingerprints(None);
    let images_there = image_fingerprints(Some(REMOTE));
    let cli = Cli::new("https", &format!("remote = \"{REMOTE}\""), REMOTE_JOB);
    let (instance, out) = run_on_remote(&cli);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(host_disks(&instance), Vec::<String>::new(), "{instance:#}");
    let guest = cli.log("far", "guest.log");
    assert!(guest.contains("as 1000\nrepository readme\n"), "{guest}");
    assert!(
        guest.contains("Read-only file system\nwrite refused"),
        "{guest}"
    );
    let host = cli.log("far", "host.log");
    assert!(host.contains("== push_files"), "{host}");
    assert!(
        host.contains(&format!("incus file pull --project {PROJECT} {REMOTE}:")),
        "{host}"
    );
    assert!(!host.contains("source="), "{host}");
    assert_eq!(
        image_fingerprints(None),
        images_here,
        "no image was copied here"
    );
    assert_eq!(
        image_fingerprints(Some(REMOTE)),
        images_there,
        "no image was copied there"
    );
    cli.real.assert_clean();
}

#[test]
fn a_cluster_target_places_the_instance_on_that_member() {
    let cli = Cli::new(
        "member",
        &format!("remote = \"{REMOTE}\"\ntarget = \"{MEMBER}\""),
        REMOTE_JOB,
    );
    let (instance, out) = run_on_remote(&cli);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(instance["location"], MEMBER, "{instance:#}");
    assert!(
        cli.log("far", "host.log")
            .contains(&format!("--target {MEMBER}"))
    );
    cli.real.assert_clean();

    let wrong = Cli::new(
        "nomemb",
        &format!("remote = \"{REMOTE}\"\ntarget = \"no-such-member\""),
        REMOTE_JOB,
    );
    let out = wrong.run(&["run"]);
    assert_eq!(out.status.code(), Some(1));
    let msg = wrong.record().jobs[0].message.clone().unwrap();
    assert!(
        msg.contains("Cluster member \"no-such-member\" not found"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("incus cluster list {REMOTE}:")),
        "{msg}"
    );
    wrong.real.assert_clean();
}

#[test]
fn remote_host_over_ssh_pushes_the_snapshot_too() {
    let cli = Cli::new(
        "ssh",
        &format!("remote_host = \"root@{HOST_ALIAS}\""),
        REMOTE_JOB,
    );
    // A real sshd on 127.0.0.1: the daemon behind it is this machine's, but
    // nothing of this machine's folders may be handed to it.
    let sshd = Sshd::start(&cli.real.dir);
    let bin = &sshd.bin;
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap());
    let child = cli
        .cmd()
        .env("PATH", path)
        .arg("run")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let instance = cli.real.wait_running(None);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(host_disks(&instance), Vec::<String>::new(), "{instance:#}");
    let host = cli.log("far", "host.log");
    assert!(
        host.contains("$ tar --create")
            && host.contains(&format!("| ssh -T -o BatchMode=yes -- root@{HOST_ALIAS}")),
        "{host}"
    );
    assert!(cli.log("far", "guest.log").contains("write refused"));
    cli.real.assert_clean();
}

/// The RESULT and DETAIL of the doctor's row `name`.
fn row<'a>(table: &'a str, name: &str) -> (&'a str, &'a str) {
    let line = table
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with("  "))
        .unwrap_or_else(|| panic!("no row {name:?} in:\n{table}"));
    let rest = line[name.len()..].trim_start();
    rest.split_once(' ')
        .map_or((rest, ""), |(s, d)| (s, d.trim_start()))
}

#[test]
fn doctor_passes_here_for_containers_and_says_vms_do_not() {
    let cli = Cli::new("doc", "", "");
    let out = cli.run(&["incus", "doctor"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    for name in [
        "incus client",
        "daemon",
        "project",
        "profile",
        "storage pool",
        "image",
        "instance type",
    ] {
        assert_eq!(row(&t, name).0, "pass", "{name} in:\n{t}");
    }
    assert!(row(&t, "image").1.contains("a container image"), "{t}");
    let other = row(&t, "other type");
    assert_eq!(other.0, "info");
    assert!(other.1.starts_with("virtual machines:"), "{t}");
    assert!(t.contains("jobs can run with these settings"), "{t}");

    let remote = Cli::new(
        "docr",
        &format!("remote = \"{REMOTE}\"\ntarget = \"{MEMBER}\""),
        "",
    );
    let out = remote.run(&["incus", "doctor"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_eq!(
        row(&t, "remote"),
        ("pass", "`pikaci-test-remote`: https://127.0.0.1:8444 (tls)")
    );
    assert_eq!(row(&t, "cluster target").0, "pass", "{t}");
    assert!(row(&t, "daemon").1.contains("clustered"), "{t}");

    let missing = remote
        .cmd()
        .args(["incus", "doctor"])
        .env(
            "PIKACI_REMOTE_LINUX_VM_INCUS_PROJECT",
            "pikaci-no-such-project",
        )
        .output()
        .unwrap();
    let t = text(&missing);
    assert_eq!(missing.status.code(), Some(1), "{t}");
    assert_eq!(row(&t, "project").0, "FAIL", "{t}");
    assert!(t.contains("fix: create the project"), "{t}");
}

#[test]
fn doctor_without_incus_says_what_to_install() {
    let cli = Cli::new("noinc", "", "");
    let empty = cli.real.dir.dir("empty-path");
    let out = cli
        .cmd()
        .args(["incus", "doctor"])
        .env("PATH", &empty)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert_eq!(row(&t, "incus client").0, "FAIL", "{t}");
    assert!(
        t.contains("apt-get install -t bookworm-backports incus"),
        "{t}"
    );
    assert!(t.contains("jobs cannot run"), "{t}");
}

/// A job in an Incus container starts with no signal blocked or ignored
/// (`timeout`, `kill %1` and a TERM trap work in it), and its timeout sends
/// it SIGTERM at once: its trap runs.
/// The local `incus exec` of an Incus job runs in the job's own cgroup
/// (the command itself runs in its instance's), removed with the job.
#[test]
fn the_incus_exec_of_a_job_runs_in_the_jobs_cgroup() {
    let job = "[[job]]\nid = \"held\"\ntimeout_secs = 120\nexecutor = \"incus\"\n\
               command = \"echo ready; while :; do sleep 0.1; done\"\n";
    let cli = Cli::new("cgr", "", job);
    let mut child = cli.spawn(&["run"]);
    cli.wait_for_log("held", "ready");
    let host = cli.log("held", "host.log");
    assert!(host.contains("job cgroup: "), "{host}");
    let clients: Vec<i32> = children_of(child.id() as i32)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains("exec"))
        })
        .collect();
    assert_eq!(clients.len(), 1, "one incus exec client: {clients:?}");
    let cgroup = std::fs::read_to_string(format!("/proc/{}/cgroup", clients[0])).unwrap();
    let dir = cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("a v2 line");
    assert!(dir.contains("pikaci-job-"), "{cgroup}");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    assert!(!child.wait().unwrap().success());
    let v2 = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .find(|l| l.contains(" - cgroup2 "))
        .and_then(|l| l.split(' ').nth(4).map(str::to_owned))
        .expect("a cgroup2 mount");
    assert!(
        !std::path::Path::new(&format!("{v2}{dir}")).exists(),
        "the job's cgroup {dir} is removed with the job"
    );
    cli.real.assert_clean();
}

/// A cancel (SIGINT to pikaci) while an Incus job runs: `incus exec` passes
/// SIGTERM on, the guest stops the command's group, and its trap runs at
/// once, before the instance is deleted.
#[test]
fn a_cancelled_job_in_a_container_gets_term_at_once_and_its_trap_runs() {
    let job = "[[job]]\nid = \"trap\"\ntimeout_secs = 120\nexecutor = \"incus\"\n\
               command = \"trap 'echo got-term; exit 0' TERM; echo ready; while :; do sleep 0.1; done\"\n";
    let cli = Cli::new("cnl", "", job);
    let mut child = cli.spawn(&["run"]);
    cli.wait_for_log("trap", "ready");
    let told = Instant::now();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "a cancelled run does not pass: {status:?}"
    );
    let log = cli.log("trap", "guest.log");
    assert!(log.contains("got-term"), "the trap never ran:\n{log}");
    let rec = cli.record();
    assert_eq!(rec.jobs[0].failure_kind, Some(FailureKind::Cancelled));
    let host = cli.log("trap", "host.log");
    assert!(host.contains("the guest was told to stop"), "{host}");
    assert!(
        told.elapsed() < Duration::from_secs(30),
        "the cancel took {:?}",
        told.elapsed()
    );
    cli.real.assert_clean();
}

#[test]
fn a_job_in_a_container_gets_signals_and_its_timeout_reaches_its_trap() {
    use pikaci_core::signal_probe::{SIGNAL_PROBE, probe_problems};
    let job = format!(
        "[[job]]\nid = \"probe\"\ntimeout_secs = 8\nexecutor = \"incus\"\ncommand = '''\n{SIGNAL_PROBE}'''\n"
    );
    let cli = Cli::new("sig", "", &job);
    let out = cli.run(&["run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let rec = cli.record();
    assert_eq!(rec.jobs[0].failure_kind, Some(FailureKind::Timeout));
    let log = cli.log("probe", "guest.log");
    let problems = probe_problems(&log, true);
    assert!(problems.is_empty(), "{problems:?}\n{log}");
    cli.real.assert_clean();
}

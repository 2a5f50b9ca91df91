//! Crash safety and concurrency: SIGKILL at random moments, several writers
//! and readers on one state root. Each test prints what it tried and what held
//! (`cargo test -p pikaci-cli --test integration reliability -- --nocapture`).

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pikaci_core::{FailureKind, RunStatus, SystemLiveness};
use pikaci_store::StoreError;

use crate::support::{TestEnv, stdout};

/// A small deterministic generator, so a failure can be replayed from its seed.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn sigkill_at_random_moments_never_leaves_a_torn_or_forever_running_run() {
    const KILLS: usize = 200;
    let env = TestEnv::new(
        "[[job]]\nid = \"a\"\ncommand = \"echo a; sleep 0.05\"\n[[job]]\nid = \"b\"\ncommand = \"echo b\"\n",
    );
    let seed = 0x5eed_u64;
    let mut rng = Lcg(seed);
    for _ in 0..KILLS {
        let mut child = env
            .cmd()
            .args(["run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_micros(rng.next() % 60_000));
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
        child.wait().unwrap();
    }
    let store = env.store();
    let live = SystemLiveness::new();
    let ids = store.list_runs(None, usize::MAX).unwrap();
    let (mut finished, mut interrupted, mut no_record) = (0, 0, 0);
    for id in &ids {
        match store.load_run_record(id) {
            Ok(raw) => {
                let read = store.run(id).and_then(|dir| dir.record()).unwrap();
                let seen = store.reconcile_record(read, &live, raw.created_at);
                assert_ne!(
                    seen.status,
                    RunStatus::Running,
                    "{id} would stay running forever"
                );
                if seen.failure_kind == Some(FailureKind::Interrupted) {
                    interrupted += 1;
                } else {
                    finished += 1;
                }
            }
            // Killed after claiming the folder and before the first write.
            Err(StoreError::RunNotFound { .. }) => no_record += 1,
            Err(e) => panic!("{id}: {e}"),
        }
    }
    // `pikaci list` agrees and shows nothing running.
    let listing = stdout(&env.pikaci(&["list", "--limit", "1000"]));
    let running_rows = listing
        .lines()
        .skip(1)
        .filter(|l| l.split_whitespace().nth(1) == Some("running"))
        .count();
    assert_eq!(running_rows, 0, "{listing}");
    println!(
        "crash safety (seed {seed:#x}): {KILLS} runs killed with SIGKILL at 0-60 ms; {} run folders: \
         {finished} finished before the kill, {interrupted} reported interrupted, {no_record} killed before \
         their first record; 0 torn or unparsable run.json, 0 left running",
        ids.len()
    );
    assert_eq!(finished + interrupted + no_record, ids.len());
    assert!(
        interrupted > 0,
        "the kills should have caught some runs mid-way"
    );
}

#[test]
fn concurrent_writers_and_readers_share_one_state_root() {
    const WRITERS: usize = 4;
    const RUNS_EACH: usize = 8;
    let env = Arc::new(TestEnv::new(
        "[[job]]\nid = \"a\"\ncommand = \"echo $PIKACI_RUN_ID\"\n",
    ));
    let done = Arc::new(AtomicBool::new(false));
    let loads = Arc::new(AtomicUsize::new(0));
    let reader = {
        let (env, done, loads) = (env.clone(), done.clone(), loads.clone());
        std::thread::spawn(move || {
            let store = env.store();
            while !done.load(Ordering::Relaxed) {
                for id in store.list_runs(None, 100).unwrap() {
                    match store.load_run_record(&id) {
                        Ok(r) => assert_eq!(r.run_id, id),
                        Err(StoreError::RunNotFound { .. }) => {}
                        Err(e) => panic!("reader saw {e}"),
                    }
                    loads.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let env = env.clone();
            std::thread::spawn(move || {
                for _ in 0..RUNS_EACH {
                    let out = env.pikaci(&["run", "--output", "json"]);
                    assert_eq!(out.status.code(), Some(0));
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    let store = env.store();
    let ids = store.list_runs(None, 1000).unwrap();
    let unique: BTreeSet<_> = ids.iter().collect();
    assert_eq!(ids.len(), WRITERS * RUNS_EACH, "a run was lost");
    assert_eq!(unique.len(), ids.len(), "an id was used twice");
    for id in &ids {
        let r = store.load_run_record(id).unwrap();
        assert_eq!(r.status, RunStatus::Passed);
        let log = env.log(id, "a", "guest.log");
        assert_eq!(
            log.trim(),
            id.as_str(),
            "a run's log holds another run's output"
        );
    }
    println!(
        "concurrency: {WRITERS} pikaci processes wrote {} runs into one state root while a reader made {} loads: \
         0 torn reads, 0 lost runs, 0 id collisions",
        ids.len(),
        loads.load(Ordering::Relaxed)
    );
}

/// Unmounts a test file system even when the test fails.
struct Mount(camino::Utf8PathBuf);
impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_state_root_does_not_change_the_jobs_results() {
    // Mounting a small tmpfs needs root (CI runs as root).
    if !nix::unistd::geteuid().is_root() {
        eprintln!("not root: this test needs to mount a tmpfs; it runs in CI");
        return;
    }
    let env = TestEnv::new(
        "[[job]]\nid = \"chatty\"\ncommand = \"head -c 4000000 /dev/zero; echo chatty done >&2\"\n\
         [[job]]\nid = \"after\"\ncommand = \"echo after\"\n",
    );
    let mnt = env.root.join("full");
    std::fs::create_dir_all(&mnt).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt.as_str()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "mount a 1 MiB tmpfs");
    let _guard = Mount(mnt.clone());
    let out = env
        .cmd()
        .args(["--state-root", mnt.as_str(), "run"])
        .output()
        .unwrap();
    let err = crate::support::stderr(&out);
    // 4 MB of output cannot fit in 1 MiB, yet both jobs pass.
    assert_eq!(out.status.code(), Some(0), "{}{err}", stdout(&out));
    assert!(
        stdout(&out).contains("pass   chatty") && stdout(&out).contains("pass   after"),
        "{}",
        stdout(&out)
    );
    assert!(err.matches("warning:").count() <= 1, "{err}");
    // Whatever made it to disk parses.
    let store = pikaci_store::Store::open(mnt.clone());
    let (mut parsed, mut missing) = (0, 0);
    for id in store.list_runs(None, 10).unwrap() {
        match store.load_run_record(&id) {
            Ok(_) => parsed += 1,
            Err(StoreError::RunNotFound { .. }) => missing += 1,
            Err(e) => panic!("{e}"),
        }
    }
    println!(
        "full disk: 4 MB of job output into a 1 MiB state root; both jobs passed, {} warning(s), {parsed} run.json parsed, {missing} missing",
        err.matches("warning:").count()
    );
}

/// A `running` record whose owner pid now belongs to another process (here
/// pid 1, which always lives) is interrupted, not `running` forever: the
/// owner's start time does not match.
#[test]
fn a_reused_owner_pid_does_not_keep_a_dead_run_running() {
    let env = TestEnv::new("[[job]]\nid = \"a\"\ncommand = \"true\"\n");
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(0));
    let mut rec = env.last_run();
    rec.status = RunStatus::Running;
    rec.finished_at = None;
    let init_start = pikaci_core::ProcStat::read(1).unwrap().start_ticks;
    let mut json = serde_json::to_value(&rec).unwrap();
    json["owner"] = serde_json::json!({
        "pid": 1,
        "host": pikaci_core::this_host_name(),
        "start_ticks": init_start + 12_345,
    });
    let rec: pikaci_core::RunRecord = serde_json::from_value(json).unwrap();
    env.store().persist_run_record(&rec).unwrap();
    let out = env.pikaci(&["status", rec.run_id.as_str()]);
    let text = stdout(&out);
    assert!(text.contains("status  failed (interrupted)"), "{text}");
    let saved = env.store().load_run_record(&rec.run_id).unwrap();
    assert_eq!(saved.failure_kind, Some(FailureKind::Interrupted));
}

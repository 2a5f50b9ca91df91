//! Kept snapshots that share what did not change: a rerun after later runs
//! and a gc gets its run's bytes exactly, also after root jobs of other runs
//! wrote into their snapshots; a pikaci killed mid-snapshot leaves nothing a
//! rerun takes for whole; two runs of one source at once; gc frees objects
//! when their last run goes and says how many bytes.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pikaci_core::{RunRecord, RunStatus};
use sha2::{Digest, Sha256};

use crate::support::{TestEnv, stderr, stdout};

/// `sums` prints the hash and mode of every file and every link of its
/// snapshot; `scribble` (root, on the host) then tries to write into every
/// file of it.
const PIPELINE: &str = r#"
[[job]]
id = "sums"
command = "find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; find . -type l -printf '%p -> %l\n' | LC_ALL=C sort; find . -type f -printf '%m %p\n' | LC_ALL=C sort"

[[job]]
id = "scribble"
needs = ["sums"]
command = "find . -type f -exec sh -c 'echo scribbled >> \"$1\"' _ {} \\; 2>/dev/null; true"
"#;

/// One job that does nothing.
const PIPELINE_T: &str = "[[job]]\nid = \"t\"\ncommand = \"true\"\n";

fn run(env: &TestEnv, args: &[&str]) -> RunRecord {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    let out = env.pikaci(&all);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

fn write(env: &TestEnv, rel: &str, body: &[u8]) {
    let path = env.repo.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// Every object in the state root hashes to its name.
fn objects_are_whole(env: &TestEnv) -> usize {
    let dir = env.store().root().objects_dir();
    let mut count = 0;
    for folder in std::fs::read_dir(&dir).unwrap() {
        let folder = folder.unwrap();
        let name = folder.file_name().into_string().unwrap();
        // Objects being written, and each source's stat cache.
        if name == "tmp" || name == "cache" {
            continue;
        }
        for object in std::fs::read_dir(folder.path()).unwrap() {
            let object = object.unwrap();
            let hash = hex::encode(Sha256::digest(std::fs::read(object.path()).unwrap()));
            let named = format!("{name}{}", object.file_name().into_string().unwrap());
            assert_eq!(hash, named, "object {named} holds other bytes");
            count += 1;
        }
    }
    count
}

/// The folder of the first run for which `ready` holds, waited for (30 s at
/// most, else fails saying `never`).
fn wait_for_run(env: &TestEnv, ready: impl Fn(&Utf8Path) -> bool, never: &str) -> Utf8PathBuf {
    let runs = env.store().root().runs_dir();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = runs
            .read_dir_utf8()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok())
            .map(|e| e.into_path())
            .find(|run| ready(run));
        if let Some(run) = found {
            return run;
        }
        assert!(Instant::now() < deadline, "{never}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every file in the objects folder but the stat caches, with its size.
fn object_files(env: &TestEnv) -> BTreeMap<String, u64> {
    let dir = env.store().root().objects_dir();
    let mut out = BTreeMap::new();
    for folder in std::fs::read_dir(&dir).into_iter().flatten() {
        let folder = folder.unwrap();
        if folder.file_name() == "cache" {
            continue;
        }
        for object in std::fs::read_dir(folder.path()).unwrap() {
            let object = object.unwrap();
            let size = object.metadata().unwrap().len();
            out.insert(object.path().display().to_string(), size);
        }
    }
    out
}

#[test]
fn a_rerun_after_nine_later_runs_and_a_gc_gets_its_bytes_even_after_root_jobs_wrote_into_theirs() {
    let env = TestEnv::new(PIPELINE);
    write(&env, ".gitignore", b"ignored/\n");
    write(&env, "tracked/big.bin", &vec![7u8; 3 << 20]);
    write(&env, "tracked/tool.sh", b"#!/bin/sh\necho tool\n");
    std::fs::set_permissions(
        env.repo.join("tracked/tool.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("tracked/tool.sh", env.repo.join("tool")).unwrap();
    for args in [
        &["add", "."][..],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "more",
        ],
    ] {
        let ok = Command::new("git")
            .args(args)
            .current_dir(&env.repo)
            .status()
            .unwrap();
        assert!(ok.success(), "git {args:?}");
    }
    // A run whose bytes only it keeps: removed below as an older pikaci's
    // gc would, leaving its objects for this gc to find.
    write(&env, "only-run-zero.txt", b"run zero alone\n");
    let zero = run(&env, &["run"]);
    std::fs::remove_file(env.repo.join("only-run-zero.txt")).unwrap();

    // The run to rerun: a dirty tracked file, an untracked file, an ignored one.
    write(&env, "README", b"dirty, not committed\n");
    write(&env, "untracked.txt", b"untracked, not ignored\n");
    write(&env, "ignored/secret", b"stays out\n");
    let first = run(&env, &["run"]);
    let original = env.log(&first.run_id, "sums", "guest.log");
    assert!(
        original.contains("./untracked.txt") && original.contains("./README"),
        "{original}"
    );
    assert!(!original.contains("ignored/secret"), "{original}");
    assert!(original.contains("./tool -> tracked/tool.sh"), "{original}");
    assert!(original.contains("555 ./tracked/tool.sh"), "{original}");

    // Nine later runs, one file changed before each; their root jobs write
    // into every file of their snapshots.
    for i in 0..9 {
        write(&env, "README", format!("later run {i}\n").as_bytes());
        let later = run(&env, &["run"]);
        assert_eq!(later.status, RunStatus::Passed);
    }
    let usage = stdout(&env.pikaci(&["du"]));
    assert!(usage.contains(first.run_id.as_str()), "{usage}");

    std::fs::remove_dir_all(env.store().root().run_dir(&zero.run_id)).unwrap();
    let before = object_files(&env);
    let out = env.pikaci(&["gc", "--keep-runs", "100"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let after = object_files(&env);
    // Run zero's file and its README (a version no later run has).
    let swept: u64 = before
        .iter()
        .filter(|(path, _)| !after.contains_key(*path))
        .map(|(_, size)| size)
        .sum();
    assert_eq!(before.len() - after.len(), 2, "{text}");
    assert_eq!(swept, 15 + 18);
    assert!(
        text.contains(&format!("freed {swept} B ({swept} bytes)"))
            && text.contains("2 shared file(s) no run uses"),
        "{text}"
    );
    objects_are_whole(&env);

    let again = run(&env, &["rerun", first.run_id.as_str()]);
    assert_eq!(again.status, RunStatus::Passed);
    assert_eq!(
        env.log(&again.run_id, "sums", "guest.log"),
        original,
        "byte for byte, mode for mode, link for link"
    );
    // The rerun's own root job wrote into its copy, not into the kept bytes.
    let twice = run(&env, &["rerun", first.run_id.as_str()]);
    assert_eq!(env.log(&twice.run_id, "sums", "guest.log"), original);
}

#[test]
fn ten_runs_of_one_file_changed_keep_little_more_than_one_copy() {
    let env = TestEnv::new(PIPELINE_T);
    for i in 0..40 {
        write(&env, &format!("src/f{i}.bin"), &vec![i as u8; 256 << 10]);
    }
    let one_copy: u64 = 40 * (256 << 10);
    for i in 0..10 {
        write(&env, "src/f0.bin", &vec![200 + i as u8; 256 << 10]);
        run(&env, &["run"]);
    }
    let usage = env.store().usage().unwrap();
    assert_eq!(usage.runs.len(), 10);
    // One copy, plus nine more versions of one file, plus records and logs.
    assert!(
        usage.total_bytes() < one_copy * 13 / 10,
        "{} bytes for a {one_copy}-byte tree",
        usage.total_bytes()
    );
    for r in &usage.runs {
        // The 39 files that never changed, the README and the pipeline.
        assert_eq!(
            r.shared_bytes,
            39 * (256 << 10) + 18 + PIPELINE_T.len() as u64,
            "{r:?}"
        );
        assert!(r.own_bytes >= 256 << 10, "{r:?}");
    }
}

#[test]
fn a_pikaci_killed_mid_snapshot_leaves_nothing_a_rerun_takes_for_whole() {
    let env = TestEnv::new("[[job]]\nid = \"t\"\ncommand = \"true\"\n");
    // Enough bytes that the snapshot takes a while.
    for i in 0..300 {
        write(&env, &format!("big/f{i}"), &vec![(i % 251) as u8; 1 << 20]);
    }
    let mut child = env
        .cmd()
        .args(["run"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let run_folder = wait_for_run(
        &env,
        |run| run.join(".snapshot-partial").exists(),
        "no snapshot was begun",
    );
    let run_folder = run_folder.as_path();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    assert!(
        !run_folder.join("snapshot.manifest").exists() && !run_folder.join("snapshot").exists(),
        "the kill landed after the snapshot was complete: make the tree bigger"
    );
    objects_are_whole(&env);
    let id = run_folder.file_name().unwrap();
    let out = env.pikaci(&["rerun", id]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is gone"), "{}", stderr(&out));

    // gc takes the run and every object it left, half-written ones included.
    let out = env.pikaci(&["gc", "--keep-runs", "0", "--stale-after", "0s"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!run_folder.exists(), "{}", stdout(&out));
    assert!(object_files(&env).is_empty(), "{:?}", object_files(&env));
}

#[test]
fn a_pikaci_killed_while_its_jobs_run_leaves_its_copy_and_a_rerun_takes_unstored_objects_from_it() {
    let env = TestEnv::new(PIPELINE_T);
    // The job prints its payload's hash, then waits while the hold file is there.
    let hold = env.repo.join(".git/hold");
    std::fs::write(&hold, "").unwrap();
    let pipeline = format!(
        "[[job]]\nid = \"sum\"\ncommand = \"sha256sum payload; while [ -e {hold} ]; do sleep 0.05; done\"\n"
    );
    write(&env, "pikaci.toml", pipeline.as_bytes());
    write(&env, "payload", b"the bytes of the first run\n");
    let mut child = env
        .cmd()
        .args(["run"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let run_folder = wait_for_run(
        &env,
        |run| {
            std::fs::read_to_string(run.join("jobs/sum/guest.log"))
                .is_ok_and(|log| log.contains("payload"))
        },
        "the job never started",
    );
    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    std::fs::remove_file(&hold).unwrap();
    // As if the kill had come before the new objects were stored.
    let objects = env.store().root().objects_dir();
    let _ = Command::new("chmod")
        .args(["-R", "u+w"])
        .arg(&objects)
        .status();
    std::fs::remove_dir_all(&objects).unwrap();
    assert!(run_folder.join("snapshot.manifest").is_file());
    assert!(
        run_folder.join("snapshot/payload").is_file(),
        "the copy stays"
    );
    // The source moves on; the rerun must not see it.
    write(&env, "payload", b"changed after the run\n");

    let id = run_folder.file_name().unwrap();
    let again = run(&env, &["rerun", id]);
    assert_eq!(again.status, RunStatus::Passed, "{:?}", again.message);
    let first_sum = hex::encode(Sha256::digest(b"the bytes of the first run\n"));
    let log = env.log(&again.run_id, "sum", "guest.log");
    assert!(log.starts_with(&first_sum), "{log}");
    // The objects it took from the copy are stored now, whole.
    assert_eq!(objects_are_whole(&env), 3, "README, pikaci.toml, payload");
}

#[test]
fn two_runs_of_one_source_at_once_both_keep_the_same_whole_bytes() {
    let env = TestEnv::new(PIPELINE);
    for i in 0..50 {
        write(&env, &format!("src/f{i}"), &vec![i as u8; 64 << 10]);
    }
    let spawn = || {
        env.cmd()
            .args(["run", "--output", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let records: Vec<RunRecord> = [a, b]
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            serde_json::from_str(&stdout(&out)).unwrap()
        })
        .collect();
    let manifest =
        |r: &RunRecord| std::fs::read(env.store().root().snapshot_manifest(&r.run_id)).unwrap();
    assert_eq!(manifest(&records[0]), manifest(&records[1]));
    assert_eq!(
        objects_are_whole(&env),
        52,
        "50 files, the README and the pipeline"
    );
    let sums = env.log(&records[0].run_id, "sums", "guest.log");
    for r in &records {
        let again = run(&env, &["rerun", r.run_id.as_str()]);
        assert_eq!(env.log(&again.run_id, "sums", "guest.log"), sums);
    }
}

#[test]
fn a_kept_file_changed_behind_pikacis_back_stops_the_rerun_instead_of_running_other_bytes() {
    let env = TestEnv::new(PIPELINE_T);
    let first = run(&env, &["run"]);
    let kept = env.store().root().kept_layout(&first.run_id);
    let readme = env
        .store()
        .root()
        .objects_dir()
        .join(sha_path(b"a test repository\n"));
    std::fs::set_permissions(&readme, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&readme, "a test repository, changed\n").unwrap();
    assert!(kept.read_file("README".into()).is_err());

    let out = env.pikaci(&["rerun", first.run_id.as_str(), "--output", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let again: RunRecord = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(again.status, RunStatus::Failed);
    let message = again.message.unwrap_or_default();
    assert!(
        message.contains(&format!(
            "could not make the snapshot run {} kept",
            first.run_id
        )) && message.contains("README was changed after it was stored"),
        "{message}"
    );
    assert!(again.jobs.is_empty(), "no job ran: {:?}", again.jobs);
}

/// Where the object holding `bytes` lives, relative to the objects folder.
fn sha_path(bytes: &[u8]) -> String {
    let hex = hex::encode(Sha256::digest(bytes));
    format!("{}/{}", &hex[..2], &hex[2..])
}

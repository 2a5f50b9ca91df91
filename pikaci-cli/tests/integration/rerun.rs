//! `pikaci rerun`: the same bytes as the run it repeats, from the snapshot
//! that run kept; `--from-source` for today's code; a clear refusal when the
//! snapshot is gone; gc deletes kept snapshots with their runs.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use camino::Utf8Path;
use pikaci_core::{RunId, RunRecord, RunStatus};

use crate::support::{TestEnv, stderr, stdout};

/// `show` prints the README and says which pipeline it came from; `w` may
/// change its workspace.
const PIPELINE: &str = r#"
[[job]]
id = "show"
command = "cat README; echo pipeline one"

[[job]]
id = "w"
writable_workspace = true
command = "echo changed by w > README && cat README"
"#;

fn run_json(env: &TestEnv, args: &[&str]) -> RunRecord {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    let out = env.pikaci(&all);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        stderr(&out)
    );
    serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| panic!("{e}: {}", stdout(&out)))
}

fn snapshot(env: &TestEnv, run: &RunId) -> camino::Utf8PathBuf {
    env.store().root().snapshot_dir(run)
}

/// Changes the source tree and its pipeline after a run.
fn change_the_source(env: &TestEnv) {
    std::fs::write(env.repo.join("README"), "the new README\n").unwrap();
    let newer = PIPELINE.replace("pipeline one", "pipeline two");
    std::fs::write(env.repo.join("pikaci.toml"), newer).unwrap();
}

#[test]
fn a_rerun_runs_the_bytes_of_the_run_it_repeats_and_never_changes_them() {
    let env = TestEnv::new(PIPELINE);
    let first = run_json(&env, &["run"]);
    assert_eq!(first.status, RunStatus::Passed);
    assert_eq!(first.snapshot_dir, snapshot(&env, &first.run_id));
    // The folder the jobs ran in is gone; the manifest keeps its bytes.
    assert!(!first.snapshot_dir.exists());
    let kept = env.store().root().kept_layout(&first.run_id);
    let readme = || String::from_utf8(kept.read_file("README".into()).unwrap().unwrap()).unwrap();
    assert_eq!(
        readme(),
        "a test repository\n",
        "the snapshot stays after the run"
    );

    change_the_source(&env);
    let second = run_json(&env, &["rerun", first.run_id.as_str()]);
    assert_eq!(second.status, RunStatus::Passed);
    assert_eq!(second.rerun_of.as_ref(), Some(&first.run_id));
    assert_eq!(second.snapshot_of.as_ref(), Some(&first.run_id));
    assert_eq!(second.snapshot_dir, snapshot(&env, &second.run_id));
    assert_eq!(second.git_head, first.git_head);
    assert_eq!(
        env.log(&second.run_id, "show", "guest.log"),
        "a test repository\npipeline one\n",
        "the old README, and the job as the old pipeline defined it"
    );
    // The writable job changed its own copy, made in the rerun's folder and
    // removed after it; the original snapshot is as it was.
    assert_eq!(env.log(&second.run_id, "w", "guest.log"), "changed by w\n");
    assert_eq!(readme(), "a test repository\n");
    let rerun_folder = env.store().root().run_dir(&second.run_id);
    assert!(!rerun_folder.join("workspace-w").exists());
    assert!(
        !snapshot(&env, &second.run_id).exists(),
        "the copy made for the rerun is removed when it ends"
    );
    assert!(
        !env.store()
            .root()
            .run_dir(&first.run_id)
            .join("workspace-w")
            .exists()
    );

    // A rerun of the rerun runs the same bytes again.
    let third = run_json(&env, &["rerun", second.run_id.as_str()]);
    assert_eq!(third.rerun_of.as_ref(), Some(&second.run_id));
    assert_eq!(third.snapshot_of.as_ref(), Some(&first.run_id));
    assert_eq!(
        env.log(&third.run_id, "show", "guest.log"),
        "a test repository\npipeline one\n"
    );

    // --from-source: today's code, in a snapshot of its own.
    let fresh = run_json(&env, &["rerun", first.run_id.as_str(), "--from-source"]);
    assert_eq!(fresh.rerun_of.as_ref(), Some(&first.run_id));
    assert_eq!(fresh.snapshot_of, None);
    assert_eq!(fresh.snapshot_dir, snapshot(&env, &fresh.run_id));
    assert_eq!(
        env.log(&fresh.run_id, "show", "guest.log"),
        "the new README\npipeline two\n"
    );
}

#[test]
fn a_rerun_refuses_when_the_snapshot_is_gone() {
    let env = TestEnv::new(PIPELINE);
    let discarded = run_json(&env, &["run", "--discard-snapshot"]);
    assert!(!snapshot(&env, &discarded.run_id).exists());
    let out = env.pikaci(&["rerun", discarded.run_id.as_str()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("run {} cannot be rerun", discarded.run_id))
            && err.contains("is gone")
            && err.contains("--from-source"),
        "{err}"
    );
    assert!(!err.contains(env.state.as_str()), "no server paths: {err}");
    let out = env.pikaci(&["rerun", discarded.run_id.as_str(), "--from-source"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // gc deletes a run with its snapshot; a rerun that ran in it can no
    // longer be rerun on those bytes.
    let first = run_json(&env, &["run"]);
    let second = run_json(&env, &["rerun", first.run_id.as_str()]);
    let gone = env.store().root().run_dir(&first.run_id);
    std::fs::remove_dir_all(&gone).unwrap_or_else(|e| panic!("{gone}: {e}"));
    let out = env.pikaci(&["rerun", second.run_id.as_str()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("the snapshot of run {} is gone", first.run_id)),
        "{}",
        stderr(&out)
    );
}

#[test]
fn rerun_help_names_from_source_as_todays_behaviour() {
    let env = TestEnv::new(PIPELINE);
    let out = env.pikaci(&["rerun", "--help"]);
    let text = stdout(&out);
    assert!(
        text.contains("--from-source") && text.contains("current source tree"),
        "{text}"
    );
    assert!(
        text.contains("same bytes") && text.contains("exit code 2"),
        "{text}"
    );
}

/// Gives `path` and everything under it to user `nobody` (never following links).
fn give_to_nobody(path: &Utf8Path) {
    std::os::unix::fs::lchown(path, Some(65534), Some(65534)).unwrap();
    if std::fs::symlink_metadata(path).unwrap().is_dir() {
        for entry in path.read_dir_utf8().unwrap() {
            give_to_nobody(entry.unwrap().path());
        }
    }
}

#[test]
fn gc_deletes_a_kept_read_only_snapshot_as_its_owner() {
    let env = TestEnv::new(PIPELINE);
    let run = run_json(&env, &["run"]);
    assert!(env.store().root().snapshot_manifest(&run.run_id).is_file());
    let mut gc = Command::new(env!("CARGO_BIN_EXE_pikaci"));
    if nix::unistd::geteuid().is_root() {
        // Root ignores permission bits: run gc as the owner of the state
        // root, an ordinary user, as it runs in production.
        give_to_nobody(&env.state);
        std::fs::set_permissions(&env.root, std::fs::Permissions::from_mode(0o755)).unwrap();
        gc = Command::new("setpriv");
        gc.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_pikaci"));
    }
    let out = gc
        .current_dir("/")
        .args(["--state-root", env.state.as_str(), "gc", "--keep-runs", "0"])
        .output()
        .expect("setpriv (util-linux) runs gc as an ordinary user: install util-linux");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("deleted 1 run"), "{}", stdout(&out));
    assert!(!env.store().root().run_dir(&run.run_id).exists());
    assert!(
        std::fs::read_dir(env.state.join(".trash"))
            .map(|d| d.count())
            .unwrap_or(0)
            == 0
    );
}

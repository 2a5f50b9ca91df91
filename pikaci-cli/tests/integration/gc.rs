//! `pikaci gc` against live runs and against another gc.

use std::process::Stdio;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pikaci_core::{RunRecord, RunStatus};

use crate::support::{TestEnv, read_pid, stderr, stdout};

#[test]
fn gc_never_deletes_a_run_whose_owner_is_alive() {
    let env = TestEnv::new("");
    let pidfile = env.root.join("job.pid");
    std::fs::write(
        env.repo.join("pikaci.toml"),
        format!(
            "[[job]]\nid = \"long\"\ncommand = \"echo started; echo $$ > {pidfile}; sleep 300\"\n"
        ),
    )
    .unwrap();
    let mut child = env
        .cmd()
        .args(["run"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    read_pid(&pidfile);
    let live = env.wait_for_run("the job to be running", |r| {
        r.jobs.iter().any(|j| j.status == RunStatus::Running)
    });
    // Every run is over the limit and past --stale-after: only the owner's
    // being alive keeps this one.
    let out = env.pikaci(&["gc", "--keep-runs", "0", "--stale-after", "0s"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("kept {}: still running", live.run_id)),
        "{}",
        stdout(&out)
    );
    let store = env.store();
    assert_eq!(
        store.load_run_record(&live.run_id).unwrap().status,
        RunStatus::Running
    );
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    child.wait().unwrap();
    // The record and the logs are whole: nothing was deleted under the run.
    let done: RunRecord = store.load_run_record(&live.run_id).unwrap();
    assert_eq!(done.status, RunStatus::Failed);
    assert_eq!(env.log(&done.run_id, "long", "guest.log"), "started\n");
    assert!(
        env.log(&done.run_id, "long", "host.log")
            .contains("cancelled")
    );
}

#[test]
fn two_gcs_at_once_both_succeed_and_say_no_absolute_path() {
    let env = TestEnv::new("[[job]]\nid = \"a\"\ncommand = \"true\"\n");
    let store = env.store();
    // Many finished runs, so the two gcs overlap.
    let mut template = {
        let out = env.pikaci(&["run"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        env.last_run()
    };
    let created = template.created_at;
    for i in 0..400u32 {
        template.run_id = pikaci_core::RunId::from_parts(created, i);
        store.persist_run_record(&template).unwrap();
    }
    for round in 0..3 {
        let gcs: Vec<_> = (0..2)
            .map(|_| {
                env.cmd()
                    .args(["gc", "--keep-runs", "0"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for gc in gcs {
            let out = gc.wait_with_output().unwrap();
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(0), "round {round}: {err}");
            assert!(!err.contains(env.root.as_str()), "{err}");
        }
        assert!(store.list_runs(None, 10).unwrap().is_empty());
        for i in 0..400u32 {
            template.run_id = pikaci_core::RunId::from_parts(created, i);
            store.persist_run_record(&template).unwrap();
        }
    }
}

#[test]
fn a_run_dated_in_the_future_neither_sorts_first_nor_escapes_gc() {
    let env = TestEnv::new("[[job]]\nid = \"a\"\ncommand = \"true\"\n");
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let real = env.last_run();
    // A run folder dated in 2099, untouched for a year, whose record (which
    // its own jobs can rewrite) says it was made just now: not believed.
    let mut planted = real.clone();
    planted.run_id = "20991231T235959Z-0000beef".parse().unwrap();
    planted.created_at = jiff::Timestamp::now();
    env.store().persist_run_record(&planted).unwrap();
    let folder = env.store().root().run_dir(&planted.run_id);
    let touched = std::process::Command::new("touch")
        .args(["-d", "1 year ago", folder.as_str()])
        .status()
        .expect("touch (coreutils) runs");
    assert!(touched.success());

    let out = env.pikaci(&["list"]);
    let rows: Vec<String> = stdout(&out).lines().skip(1).map(str::to_owned).collect();
    assert!(rows[0].starts_with(real.run_id.as_str()), "{rows:?}");
    assert!(rows[1].starts_with(planted.run_id.as_str()), "{rows:?}");

    let out = env.pikaci(&["gc", "--older-than", "30d"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("deleted {}", planted.run_id)),
        "{}",
        stdout(&out)
    );
    assert_eq!(env.store().list_runs(None, 10).unwrap(), [real.run_id]);
}

#[test]
fn gc_keeps_a_run_whose_snapshot_a_running_rerun_runs_in() {
    let env = TestEnv::new("");
    let (flag, pidfile) = (env.root.join("block"), env.root.join("job.pid"));
    // The job only blocks once the flag exists: the run passes at once, its
    // rerun (the same bytes, the same job) keeps running.
    std::fs::write(
        env.repo.join("pikaci.toml"),
        format!(
            "[[job]]\nid = \"j\"\ncommand = \"if [ -e {flag} ]; then echo $$ > {pidfile}; sleep 300; fi\"\n"
        ),
    )
    .unwrap();
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let original = env.last_run();
    std::fs::write(&flag, "").unwrap();
    let mut rerun = env
        .cmd()
        .args(["rerun", original.run_id.as_str()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    read_pid(&pidfile);
    // The rerun may share the original's second: look for it by what it is.
    let live = env.wait_for_any_run("the rerun's job to be running", |r| {
        r.rerun_of.is_some() && r.jobs.iter().any(|j| j.status == RunStatus::Running)
    });
    assert_eq!(live.snapshot_of.as_ref(), Some(&original.run_id));

    let out = env.pikaci(&["gc", "--keep-runs", "0", "--stale-after", "0s"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "kept {}: a running rerun runs in its snapshot",
            original.run_id
        )) && text.contains(&format!("kept {}: still running", live.run_id)),
        "{text}"
    );
    assert!(
        env.store()
            .root()
            .snapshot_manifest(&original.run_id)
            .is_file()
    );
    // gc swept the shared files while the rerun ran: the original's are
    // all still there, and it can still be rerun on them.
    let kept = env.store().root().kept_layout(&original.run_id);
    assert_eq!(
        kept.read_file("pikaci.toml".into()).unwrap(),
        Some(std::fs::read(env.repo.join("pikaci.toml")).unwrap()),
        "{text}"
    );

    kill(Pid::from_raw(rerun.id() as i32), Signal::SIGTERM).unwrap();
    rerun.wait().unwrap();
    let out = env.pikaci(&["gc", "--keep-runs", "0"]);
    assert!(
        stdout(&out).contains("deleted 2 run(s)"),
        "{}",
        stdout(&out)
    );
    assert!(!env.store().root().run_dir(&original.run_id).exists());
    // Their last run gone, the shared files went too.
    let objects = env.store().root().objects_dir();
    let left: Vec<_> = walk_files(&objects);
    assert!(left.is_empty(), "{left:?}");
}

/// A rerun holds its original's folder before it writes a record of its own:
/// gc leaves a run another process holds (here util-linux `flock`, holding
/// it shared as a rerun does), then deletes it once the hold ends.
#[test]
fn gc_leaves_a_run_another_process_holds() {
    let env = TestEnv::new("");
    std::fs::write(
        env.repo.join("pikaci.toml"),
        "[[job]]\nid = \"j\"\ncommand = \"true\"\n",
    )
    .unwrap();
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let original = env.last_run();
    let dir = env.store().root().run_dir(&original.run_id);
    let mut holder = std::process::Command::new("flock")
        .args(["--shared", "--no-fork", dir.as_str(), "sleep", "300"])
        .spawn()
        .expect("util-linux `flock` (Debian's util-linux package)");
    // Held once an exclusive try fails.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::process::Command::new("flock")
        .args(["--exclusive", "--nonblock", dir.as_str(), "true"])
        .status()
        .unwrap()
        .success()
    {
        assert!(std::time::Instant::now() < deadline, "the hold never began");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = env.pikaci(&["gc", "--keep-runs", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!(
            "kept {}: a running rerun runs in its snapshot",
            original.run_id
        )),
        "{}",
        stdout(&out)
    );
    assert!(dir.is_dir());
    holder.kill().unwrap();
    holder.wait().unwrap();
    let out = env.pikaci(&["gc", "--keep-runs", "0"]);
    assert!(
        stdout(&out).contains("deleted 1 run(s)"),
        "{}",
        stdout(&out)
    );
    assert!(!dir.exists());
}

/// Every file under `dir` (none when it does not exist).
fn walk_files(dir: &camino::Utf8Path) -> Vec<camino::Utf8PathBuf> {
    let mut out = Vec::new();
    for entry in dir.read_dir_utf8().into_iter().flatten() {
        let path = entry.unwrap().into_path();
        if path.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

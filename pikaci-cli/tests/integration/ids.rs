//! Run ids as people type them (`latest`, `latest-failed`, a prefix), and
//! `logs` as people read a failure: the failed job, its last lines.

use pikaci_core::RunId;

use crate::support::{TestEnv, stderr, stdout};

/// Runs `pikaci run`, expecting `code`, and returns the new run's id (the
/// one not there before: runs of one second list in id order, not in the
/// order they were made).
fn run_new(env: &TestEnv, code: i32) -> RunId {
    let before = env.store().list_runs(None, usize::MAX).unwrap();
    assert_eq!(env.pikaci(&["run"]).status.code(), Some(code));
    let mut new: Vec<RunId> = env
        .store()
        .list_runs(None, usize::MAX)
        .unwrap()
        .into_iter()
        .filter(|id| !before.contains(id))
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    new.remove(0)
}

#[test]
fn latest_latest_failed_and_unique_prefixes_name_runs() {
    let env = TestEnv::new("[[job]]\nid = \"a\"\ncommand = \"true\"\n");
    let out = env.pikaci(&["status", "latest"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "pikaci: no run in this state root\n");

    let passed = run_new(&env, 0);
    let out = env.pikaci(&["status", "latest-failed"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("no failed run"), "{}", stderr(&out));

    std::fs::write(
        env.repo.join("pikaci.toml"),
        "[[job]]\nid = \"a\"\ncommand = \"echo broken; exit 1\"\n",
    )
    .unwrap();
    let failed = run_new(&env, 1);
    std::fs::write(
        env.repo.join("pikaci.toml"),
        "[[job]]\nid = \"a\"\ncommand = \"true\"\n",
    )
    .unwrap();
    let newest = run_new(&env, 0);

    let run_line = |arg: &str| {
        let out = env.pikaci(&["status", arg]);
        assert!(out.status.success(), "{arg}: {}", stderr(&out));
        stdout(&out).lines().next().unwrap().to_owned()
    };
    assert_eq!(run_line("latest"), format!("run     {newest}"));
    assert_eq!(run_line("latest-failed"), format!("run     {failed}"));
    // The random part of an id is a unique prefix once the time is given.
    let unique = &failed.as_str()[..failed.as_str().len() - 2];
    assert_eq!(run_line(unique), format!("run     {failed}"));
    assert_eq!(run_line(passed.as_str()), format!("run     {passed}"));
    let out = env.pikaci(&["logs", "latest-failed", "--kind", "guest"]);
    assert_eq!(stdout(&out), "broken\n");

    // Every run starts with "20": ambiguous, and the error names them.
    let out = env.pikaci(&["status", "20"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("run id prefix \"20\" matches 3 runs: "),
        "{err}"
    );
    for id in [&passed, &failed, &newest] {
        assert!(err.contains(id.as_str()), "{id} in {err}");
    }
    // An id-shaped word that names nothing is still "not found", and a
    // path is still refused before it touches the disk.
    let out = env.pikaci(&["status", "19990101T000000Z-00000000"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.pikaci(&["logs", "../../etc"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid run id"), "{}", stderr(&out));
}

#[test]
fn logs_opens_the_failed_job_and_tail_counts_lines() {
    let env = TestEnv::new(
        "[[job]]\nid = \"first\"\ncommand = \"echo fine\"\n\
         [[job]]\nid = \"second\"\ncommand = \"printf 'one\\\\n\\\\033[31mtwo\\\\033[0m\\\\nthree\\\\n'; exit 1\"\n",
    );
    assert_eq!(env.pikaci(&["run"]).status.code(), Some(1));
    let out = env.pikaci(&["logs", "latest", "--kind", "guest"]);
    assert_eq!(stdout(&out), "one\n\x1b[31mtwo\x1b[0m\nthree\n");
    // Two lines, from the start of a line: the escape sequence whole.
    let out = env.pikaci(&["logs", "latest", "--kind", "guest", "--tail", "2"]);
    assert_eq!(stdout(&out), "\x1b[31mtwo\x1b[0m\nthree\n");
    let out = env.pikaci(&["logs", "latest", "--kind", "guest", "--tail", "1"]);
    assert_eq!(stdout(&out), "three\n");
    let out = env.pikaci(&["logs", "latest", "--kind", "guest", "--tail-bytes", "3"]);
    assert_eq!(stdout(&out), "ee\n");
    let out = env.pikaci(&["logs", "latest", "--job", "first", "--kind", "guest"]);
    assert_eq!(stdout(&out), "fine\n");
    let out = env.pikaci(&["logs", "latest", "--tail", "1", "--tail-bytes", "3"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.pikaci(&["logs", "latest", "--tail", "1", "--offset", "3"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn follow_ends_with_the_jobs_status_line() {
    let env = TestEnv::new("[[job]]\nid = \"a\"\ncommand = \"echo out; exit 4\"\n");
    assert_eq!(env.pikaci(&["run"]).status.code(), Some(1));
    let out = env.pikaci(&["logs", "latest", "--follow"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "out\n");
    assert_eq!(
        stderr(&out),
        "==> job a failed: command exited with 4 <==\n"
    );
}

#[test]
fn bash_completion_offers_run_job_and_target_ids() {
    let env = TestEnv::new(
        "[[job]]\nid = \"build\"\ncommand = \"true\"\n[[job]]\nid = \"bench\"\ncommand = \"true\"\n\
         [[job]]\nid = \"lint\"\ncommand = \"true\"\n[[target]]\nid = \"pre-merge\"\njobs = [\"build\"]\n",
    );
    assert!(env.pikaci(&["run", "--job", "lint"]).status.success());
    let run = env.last_run().run_id;
    let script = env.root.join("pikaci.bash");
    let out = env.pikaci(&["generate", "completions", "bash"]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(&script, &out.stdout).unwrap();
    // The script calls `pikaci` back: it must be on PATH, as when installed.
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_pikaci"))
        .parent()
        .unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());
    // What a real bash offers at <TAB> after each command line.
    let complete = |words: &str| {
        let out = std::process::Command::new("bash")
            .args([
                "--norc",
                "-c",
                &format!(
                    "source '{script}'; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}}-1)); \
                     COMP_TYPE=9; _clap_complete_pikaci pikaci \"${{COMP_WORDS[-1]}}\"; \
                     printf '%s\\n' \"${{COMPREPLY[@]}}\""
                ),
            ])
            .current_dir(&env.repo)
            .env("PATH", &path)
            .env("PIKACI_STATE_ROOT", &env.state)
            .output()
            .unwrap();
        assert!(out.status.success(), "{words}: {}", stderr(&out));
        stdout(&out).lines().map(str::to_owned).collect::<Vec<_>>()
    };
    let runs = complete("pikaci status ''");
    assert!(
        runs.starts_with(&["latest".into(), "latest-failed".into(), run.to_string()]),
        "{runs:?}"
    );
    assert_eq!(complete("pikaci logs latest-"), ["latest-failed"]);
    assert_eq!(complete("pikaci run --job b"), ["build", "bench"]);
    assert_eq!(complete("pikaci logs latest --job l"), ["lint"]);
    assert_eq!(complete("pikaci run pre"), ["pre-merge"]);
    assert_eq!(complete("pikaci rer"), ["rerun"]);
}

//! Run ids as people type them (`latest`, `latest-failed`, a prefix), and
//! `logs` as people read a failure: the failed job, its last lines.

use crate::support::{TestEnv, stderr, stdout};

#[test]
fn latest_latest_failed_and_unique_prefixes_name_runs() {
    let env = TestEnv::new("[[job]]\nid = \"a\"\ncommand = \"true\"\n");
    let out = env.pikaci(&["status", "latest"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "pikaci: no run in this state root\n");

    assert!(env.pikaci(&["run"]).status.success());
    let passed = env.last_run().run_id;
    let out = env.pikaci(&["status", "latest-failed"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("no failed run"), "{}", stderr(&out));

    std::fs::write(
        env.repo.join("pikaci.toml"),
        "[[job]]\nid = \"a\"\ncommand = \"echo broken; exit 1\"\n",
    )
    .unwrap();
    assert_eq!(env.pikaci(&["run"]).status.code(), Some(1));
    let failed = env.last_run().run_id;
    std::fs::write(
        env.repo.join("pikaci.toml"),
        "[[job]]\nid = \"a\"\ncommand = \"true\"\n",
    )
    .unwrap();
    assert!(env.pikaci(&["run"]).status.success());
    let newest = env.last_run().run_id;

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

//! `list`, `status`, `logs` (ranges and follow), `rerun` and `gc`.

use std::io::Read;
use std::process::Stdio;

use pikaci_core::{RunRecord, RunStatus};

use crate::support::{TestEnv, stderr, stdout};

const TWO: &str = r#"
[[job]]
id = "ok"
command = "printf 'line one\nline two\n'"

[[job]]
id = "bad"
command = "echo about to fail; exit 2"
"#;

#[test]
fn list_and_status_show_the_runs() {
    let env = TestEnv::new(TWO);
    env.pikaci(&["run"]);
    let run = env.last_run();
    let out = env.pikaci(&["list"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.contains(run.run_id.as_str()) && text.contains("failed") && text.contains("1/2"),
        "{text}"
    );
    let out = env.pikaci(&["list", "--json"]);
    let all: Vec<RunRecord> = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(all, vec![run.clone()]);

    let out = env.pikaci(&["status", run.run_id.as_str()]);
    let text = stdout(&out);
    assert!(
        text.contains("status  failed") && text.contains("command exited with 2"),
        "{text}"
    );
    let out = env.pikaci(&["status", run.run_id.as_str(), "--json"]);
    assert_eq!(
        serde_json::from_str::<RunRecord>(&stdout(&out)).unwrap(),
        run
    );
}

#[test]
fn list_shows_the_branch_checked_out_or_the_one_named_for_a_detached_head() {
    let env = TestEnv::new("[[job]]\nid = \"ok\"\ncommand = \"true\"\n");
    git_fixture::sh(&env.repo, "git checkout -q -b feature/list-me");
    assert_eq!(env.pikaci(&["run"]).status.code(), Some(0));
    assert_eq!(
        env.last_run().git_branch.as_deref(),
        Some("feature/list-me")
    );
    let text = stdout(&env.pikaci(&["list"]));
    let header = text.lines().next().unwrap();
    assert!(header.contains(" BRANCH "), "{text}");
    assert!(text.contains(" feature/list-me "), "{text}");

    // A CI service's worktree has a detached HEAD: it names the branch.
    // (Runs made in one second have no order among themselves, so the
    // branches are compared as a set.)
    git_fixture::sh(&env.repo, "git checkout -q --detach");
    let out = env
        .cmd()
        .args(["run"])
        .env("PIKACI_GIT_BRANCH", "from-env")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        env.pikaci(&["run", "--branch", "from-flag"]).status.code(),
        Some(0)
    );
    assert_eq!(env.pikaci(&["run"]).status.code(), Some(0));
    let store = env.store();
    let mut branches: Vec<Option<String>> = store
        .list_runs(None, 10)
        .unwrap()
        .iter()
        .map(|id| store.load_run_record(id).unwrap().git_branch)
        .collect();
    branches.sort();
    assert_eq!(
        branches,
        [
            None,
            Some("feature/list-me".into()),
            Some("from-env".into()),
            Some("from-flag".into())
        ],
        "detached with none named records none"
    );
    let text = stdout(&env.pikaci(&["list"]));
    assert!(
        text.contains(" from-flag ") && text.contains(" from-env "),
        "{text}"
    );

    // A name that would break the list is refused before anything runs.
    let out = env.pikaci(&["run", "--branch", "a\nb"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("control character"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn logs_whole_ranges_tail_and_metadata() {
    let env = TestEnv::new(TWO);
    env.pikaci(&["run"]);
    let id = env.last_run().run_id.to_string();
    let out = env.pikaci(&["logs", &id, "--job", "ok", "--kind", "guest"]);
    assert_eq!(stdout(&out), "line one\nline two\n");
    let out = env.pikaci(&[
        "logs",
        &id,
        "--job",
        "ok",
        "--kind",
        "guest",
        "--tail-bytes",
        "9",
    ]);
    assert_eq!(stdout(&out), "line two\n");
    let out = env.pikaci(&["logs", &id, "--job", "ok", "--kind", "guest", "--tail", "1"]);
    assert_eq!(stdout(&out), "line two\n");
    let out = env.pikaci(&[
        "logs", &id, "--job", "ok", "--kind", "guest", "--offset", "5", "--limit", "3",
    ]);
    assert_eq!(stdout(&out), "one");
    let out = env.pikaci(&["logs", &id, "--job", "bad"]);
    let text = stdout(&out);
    assert!(
        text.contains("==> host.log <==") && text.contains("==> guest.log <==\nabout to fail\n"),
        "{text}"
    );
    let out = env.pikaci(&["logs", &id, "--metadata-json"]);
    let meta: pikaci_core::RunLogsMetadata = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(meta.jobs.len(), 2);
    assert_eq!(meta.jobs[0].guest_log_size, Some(18));
    // Unknown job, bad ids.
    let out = env.pikaci(&["logs", &id, "--job", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("has no job nope"), "{}", stderr(&out));
    let out = env.pikaci(&["logs", &id, "--job", "../../etc"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid job id"), "{}", stderr(&out));
    let out = env.pikaci(&["status", "../../etc/passwd"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid run id"), "{}", stderr(&out));
    let out = env.pikaci(&["status", "20200101T000000Z-00000000"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
}

#[test]
fn logs_range_rules_are_the_store_s() {
    let env = TestEnv::new(TWO);
    env.pikaci(&["run"]);
    let id = env.last_run().run_id.to_string();
    // The one rule (shared with the pika-news API): tail with offset or limit is refused.
    for extra in [
        &["--offset", "5"][..],
        &["--limit", "3"],
        &["--offset", "1", "--limit", "1"],
    ] {
        let mut args = vec!["logs", &id, "--job", "ok", "--tail", "9"];
        args.extend_from_slice(extra);
        let out = env.pikaci(&args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        let err = stderr(&out);
        assert!(
            err.contains("invalid range: tail cannot be combined with"),
            "{extra:?}: {err}"
        );
        assert!(stdout(&out).is_empty());
    }
    // --follow resumes from --offset; a finished job ends at once.
    let out = env.pikaci(&["logs", &id, "--job", "ok", "--follow", "--offset", "5"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "one\nline two\n");
    for bad in ["--tail", "--limit"] {
        let out = env.pikaci(&["logs", &id, "--follow", bad, "3"]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            stderr(&out).contains("cannot be used with"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn follow_prints_a_running_job_until_it_ends() {
    let env = TestEnv::new(
        "[[job]]\nid = \"ticker\"\ncommand = \"for i in 1 2 3 4; do echo tick $i; sleep 0.3; done\"\n",
    );
    let mut runner = env
        .cmd()
        .args(["run"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let run = env.wait_for_run("the job to start", |r| !r.jobs.is_empty());
    let mut follower = env
        .cmd()
        .args(["logs", run.run_id.as_str(), "--follow"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut text = String::new();
    follower
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert!(follower.wait().unwrap().success());
    assert!(runner.wait().unwrap().success());
    assert_eq!(text, "tick 1\ntick 2\ntick 3\ntick 4\n");
    assert_eq!(env.last_run().status, RunStatus::Passed);
}

#[test]
fn rerun_failed_runs_only_what_did_not_pass() {
    let env = TestEnv::new(TWO);
    env.pikaci(&["run"]);
    let first = env.last_run();
    let out = env.pikaci(&[
        "rerun",
        first.run_id.as_str(),
        "--failed",
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let second: RunRecord = serde_json::from_str(&stdout(&out)).unwrap();
    assert_ne!(second.run_id, first.run_id);
    assert_eq!(second.rerun_of.as_ref(), Some(&first.run_id));
    let ids: Vec<_> = second.jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["bad"]);
    // A plain rerun runs everything again. (Runs made in the same second have
    // no order among themselves, so find it by what it is.)
    env.pikaci(&["rerun", first.run_id.as_str()]);
    let store = env.store();
    let full = store
        .list_runs(None, 10)
        .unwrap()
        .into_iter()
        .map(|id| store.load_run_record(&id).unwrap())
        .filter(|r| r.rerun_of.as_ref() == Some(&first.run_id))
        .map(|r| r.jobs.len())
        .collect::<Vec<_>>();
    assert_eq!(full.len(), 2);
    assert!(full.contains(&2) && full.contains(&1), "{full:?}");
}

#[test]
fn gc_keeps_what_it_is_told() {
    let env = TestEnv::new("[[job]]\nid = \"q\"\ncommand = \"true\"\n");
    for _ in 0..3 {
        assert_eq!(env.pikaci(&["run"]).status.code(), Some(0));
    }
    let store = env.store();
    let all = store.list_runs(None, 10).unwrap();
    assert_eq!(all.len(), 3);
    let out = env.pikaci(&["gc"]);
    assert_eq!(out.status.code(), Some(2), "gc needs a limit");
    let out = env.pikaci(&["gc", "--keep-runs", "1", "--dry-run"]);
    assert!(
        stdout(&out).contains("would delete 2 run(s)"),
        "{}",
        stdout(&out)
    );
    assert_eq!(store.list_runs(None, 10).unwrap().len(), 3);
    let out = env.pikaci(&["gc", "--keep-runs", "1"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(store.list_runs(None, 10).unwrap(), vec![all[0].clone()]);
    let out = env.pikaci(&["gc", "--older-than", "soon"]);
    assert_eq!(out.status.code(), Some(2));
}

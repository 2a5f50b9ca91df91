//! `pikaci run`: results, exit codes, output modes, logs, timeouts, parallelism.

use pikaci_core::{FailureKind, LifecycleEvent, RunStatus};

use crate::support::{TestEnv, read_pid, stderr, stdout, wait_gone};

const PASS_FAIL: &str = r#"
[[job]]
id = "hello"
description = "say hello"
command = "echo hello from $PIKACI_JOB_ID; cat README; echo to-stderr >&2"

[[job]]
id = "boom"
command = "echo failing; exit 4"

[[job]]
id = "after-boom"
command = "echo never"
needs = ["boom"]

[[target]]
id = "good"
description = "only what passes"
jobs = ["hello"]
"#;

#[test]
fn a_passing_target_exits_0_and_records_everything() {
    let env = TestEnv::new(PASS_FAIL);
    let out = env.pikaci(&["run", "good"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("start  hello") && text.contains("pass   hello"),
        "{text}"
    );
    let run = env.last_run();
    assert_eq!(run.status, RunStatus::Passed);
    assert_eq!(run.target_id.as_ref().unwrap().as_str(), "good");
    assert_eq!(run.target_description.as_deref(), Some("only what passes"));
    assert_eq!(run.git_head.as_ref().map(String::len), Some(40));
    assert_eq!(run.git_dirty, Some(false));
    assert_eq!(run.jobs.len(), 1);
    assert_eq!(run.jobs[0].exit_code, Some(0));
    assert_eq!(
        env.log(&run.run_id, "hello", "guest.log"),
        "hello from hello\na test repository\nto-stderr\n"
    );
    let host = env.log(&run.run_id, "hello", "host.log");
    assert!(
        host.contains("command: echo hello") && host.contains("exited with 0"),
        "{host}"
    );
    // The jobs ran in the run's snapshot folder, removed when the run
    // ended; its manifest keeps the bytes for reruns, until gc.
    assert_eq!(
        run.snapshot_dir,
        env.store().root().snapshot_dir(&run.run_id)
    );
    assert!(!run.snapshot_dir.exists());
    let kept = env.store().root().kept_layout(&run.run_id);
    assert_eq!(
        kept.read_file("README".into()).unwrap().unwrap(),
        b"a test repository\n"
    );
}

#[test]
fn a_failing_job_exits_1_and_skips_what_needs_it() {
    let env = TestEnv::new(PASS_FAIL);
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let run = env.last_run();
    assert_eq!(run.status, RunStatus::Failed);
    let statuses: Vec<_> = run.jobs.iter().map(|j| (j.id.as_str(), j.status)).collect();
    assert_eq!(
        statuses,
        [
            ("hello", RunStatus::Passed),
            ("boom", RunStatus::Failed),
            ("after-boom", RunStatus::Skipped)
        ]
    );
    assert_eq!(run.jobs[1].exit_code, Some(4));
    assert_eq!(run.jobs[1].failure_kind, Some(FailureKind::TestFailure));
    assert!(stdout(&out).contains(&format!("pikaci logs {} --job boom", run.run_id)));
}

#[test]
fn jsonl_prints_exactly_the_lifecycle_events_in_order() {
    let env = TestEnv::new(PASS_FAIL);
    let out = env.pikaci(&[
        "run", "--job", "hello", "--job", "boom", "--output", "jsonl",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let events: Vec<LifecycleEvent> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not an event: {l}: {e}")))
        .collect();
    let names: Vec<String> = events
        .iter()
        .map(|e| {
            serde_json::to_value(e).unwrap()["event"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "run_started",
            "job_started",
            "job_finished",
            "job_started",
            "job_finished",
            "run_finished"
        ]
    );
    let LifecycleEvent::RunFinished { run } = events.last().unwrap() else {
        panic!()
    };
    assert_eq!(run.filters, ["hello", "boom"]);
    assert_eq!(run.run_id, env.last_run().run_id);
}

#[test]
fn json_prints_the_final_record_only() {
    let env = TestEnv::new(PASS_FAIL);
    let out = env.pikaci(&["run", "good", "--output", "json"]);
    let record: pikaci_core::RunRecord = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(record, env.last_run());
}

#[test]
fn a_timeout_kills_the_job_and_its_backgrounded_grandchild() {
    let env = TestEnv::new("");
    let pidfile = env.root.join("grandchild.pid");
    std::fs::write(
        env.repo.join("pikaci.toml"),
        format!(
            "[[job]]\nid = \"slow\"\ntimeout_secs = 1\ncommand = \"(trap '' TERM; sleep 300) & echo $! > {pidfile}; sleep 300\"\n"
        ),
    )
    .unwrap();
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let run = env.last_run();
    assert_eq!(run.jobs[0].failure_kind, Some(FailureKind::Timeout));
    assert!(
        run.jobs[0]
            .message
            .as_deref()
            .unwrap()
            .contains("timed out after 1s")
    );
    let grandchild = read_pid(&pidfile);
    assert!(
        wait_gone(grandchild),
        "grandchild {grandchild} survived the timeout"
    );
}

#[test]
fn parallel_jobs_overlap_with_jobs_2() {
    // Each job waits (bounded) for the other's mark: only possible if both run at once.
    let env = TestEnv::new("");
    let marks = env.root.join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let job = |me: &str, other: &str| {
        format!(
            "[[job]]\nid = \"{me}\"\ntimeout_secs = 20\ncommand = \"touch {marks}/{me}; for i in $(seq 200); do [ -e {marks}/{other} ] && exit 0; sleep 0.05; done; exit 1\"\n"
        )
    };
    std::fs::write(env.repo.join("pikaci.toml"), job("a", "b") + &job("b", "a")).unwrap();
    let out = env.pikaci(&["run", "--jobs", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn writable_jobs_get_a_private_copy_and_the_source_is_untouched() {
    let env = TestEnv::new(
        "[[job]]\nid = \"w\"\nwritable_workspace = true\ncommand = \"echo changed > README && cat README && touch new-file\"\n",
    );
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(
        std::fs::read_to_string(env.repo.join("README")).unwrap(),
        "a test repository\n"
    );
    assert!(!env.repo.join("new-file").exists());
    let run = env.last_run();
    assert_eq!(env.log(&run.run_id, "w", "guest.log"), "changed\n");
}

#[test]
fn an_unwritable_state_root_warns_once_and_still_reports_the_jobs() {
    let env = TestEnv::new(PASS_FAIL);
    // Root ignores permission bits, so make the root impossible: a path under a file.
    let blocker = env.root.join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let bad = blocker.join("state");
    let out = env
        .cmd()
        .args(["--state-root", bad.as_str(), "run", "good"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.matches("warning:").count(), 1, "{err}");
    assert!(err.contains("state root cannot be written"), "{err}");
    assert!(stdout(&out).contains("pass   hello"));
    let out = env
        .cmd()
        .args(["--state-root", bad.as_str(), "run", "--job", "boom"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failing job still fails the command"
    );
}

#[test]
fn the_state_root_inside_the_repository_stays_out_of_the_snapshot() {
    let env = TestEnv::new("[[job]]\nid = \"ls\"\ncommand = \"ls -A\"\n");
    let out = env
        .cmd()
        .env_remove("PIKACI_STATE_ROOT")
        .args(["run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let store = pikaci_store::Store::open(env.repo.join(".pikaci"));
    let id = store.list_runs(None, 1).unwrap().pop().unwrap();
    let listing = std::fs::read_to_string(store.root().job_log(
        &id,
        &"ls".parse().unwrap(),
        pikaci_core::LogFile::Guest,
    ))
    .unwrap();
    assert!(!listing.contains(".pikaci"), "{listing}");
    assert!(listing.contains("README"), "{listing}");
}

/// A job that prints 64 MiB against a 1 MiB `max_log_bytes`: the log stops at
/// 1 MiB with one marker line, the job goes on to its end (it is never
/// blocked on a full pipe), passes, and its record says the log was cut.
#[test]
fn max_log_bytes_cuts_the_log_with_one_marker_and_the_job_goes_on() {
    let env = TestEnv::new(
        "[defaults]\nmax_log_bytes = \"1MiB\"\n\
         [[job]]\nid = \"chatty\"\ncommand = \"head -c 67108864 /dev/zero | tr '\\\\0' x; echo; echo finished > $PIKACI_SOURCE_ROOT/../chatty.done\"\n\
         [[job]]\nid = \"quiet\"\ncommand = \"echo hello\"\nmax_log_bytes = 100\n",
    );
    let out = env.pikaci(&["run", "--output", "jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        env.root.join("chatty.done").exists(),
        "the job did not run to its end"
    );
    let run = env.last_run();
    assert!(run.job(&"chatty".parse().unwrap()).unwrap().log_truncated);
    assert!(!run.job(&"quiet".parse().unwrap()).unwrap().log_truncated);
    let guest = env.log(&run.run_id, "chatty", "guest.log");
    let marker = pikaci_core::process::truncation_marker(1 << 20, false);
    assert_eq!(guest.len(), (1 << 20) + marker.len());
    assert!(guest.ends_with(&marker), "{}", &guest[guest.len() - 200..]);
    assert_eq!(guest.matches("[pikaci]").count(), 1);
    assert_eq!(env.log(&run.run_id, "quiet", "guest.log"), "hello\n");
    assert!(
        env.log(&run.run_id, "chatty", "host.log")
            .contains("bytes of output were dropped")
    );
    // The key is in the record only where it is true.
    let json =
        std::fs::read_to_string(env.state.join(format!("runs/{}/run.json", run.run_id))).unwrap();
    assert_eq!(json.matches("\"log_truncated\": true").count(), 1, "{json}");
    assert!(!json.contains("\"log_truncated\": false"));
}

#[test]
fn each_write_of_a_job_is_dated_in_a_sidecar_and_the_log_is_untouched() {
    let env =
        TestEnv::new("[[job]]\nid = \"dated\"\ncommand = \"echo first; sleep 0.3; echo second\"\n");
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run = env.last_run();
    assert_eq!(
        env.log(&run.run_id, "dated", "guest.log"),
        "first\nsecond\n"
    );
    let log = env
        .store()
        .run(&run.run_id)
        .unwrap()
        .job(None)
        .unwrap()
        .log(pikaci_core::LogFile::Guest);
    let times = log.times().unwrap().expect("guest.log.ts was written");
    let first = times.time_at(0).unwrap().unwrap();
    let second = times.time_at(6).unwrap().unwrap();
    let started = run.jobs[0].started_at.as_millisecond();
    let finished = run.jobs[0].finished_at.unwrap().as_millisecond();
    assert!(
        started <= first && second <= finished,
        "{started} {first} {second} {finished}"
    );
    assert!(
        second - first >= 250,
        "the second line came later: {first} {second}"
    );
    // host.log is dated too.
    let host = env.store().run(&run.run_id).unwrap().job(None).unwrap();
    assert!(
        host.log(pikaci_core::LogFile::Host)
            .times()
            .unwrap()
            .is_some()
    );
}

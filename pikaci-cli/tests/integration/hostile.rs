//! Hostile input on every path-bearing argument of the CLI: each gets a clear
//! error and exit 2, and nothing outside the state root is read.

use pikaci_core::hostile::{HOSTILE_IDS, overlong_id};
use pikaci_core::{LogFile, RunRecord};

use crate::support::{TestEnv, stderr, stdout};

#[test]
fn every_trick_in_every_id_argument_is_refused_with_exit_2() {
    let env = TestEnv::new(
        "[[job]]\nid = \"a\"\ncommand = \"echo ok\"\n[[target]]\nid = \"t\"\njobs = [\"a\"]\n",
    );
    assert_eq!(env.pikaci(&["run"]).status.code(), Some(0));
    let good = env.last_run().run_id.to_string();
    let overlong = overlong_id();
    let corpus: Vec<&str> = HOSTILE_IDS
        .iter()
        .copied()
        .filter(|s| !s.contains('\0')) // a process argument cannot hold NUL
        .chain([overlong.as_str()])
        .collect();
    let mut tried = 0;
    for s in &corpus {
        // `--` and `--job=` make clap hand even `--help` or `-rf` to pikaci as a value.
        let job_flag = format!("--job={s}");
        let cases: [Vec<&str>; 6] = [
            vec!["status", "--", s],
            vec!["logs", "--", s],
            vec!["logs", &good, &job_flag],
            vec!["run", "--", s],
            vec!["run", &job_flag],
            vec!["rerun", "--", s],
        ];
        for args in cases {
            let out = env.pikaci(&args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            assert!(
                err.contains("pikaci: invalid "),
                "{args:?} did not say what is wrong: {err}"
            );
            assert!(stdout(&out).is_empty(), "{args:?} printed {}", stdout(&out));
            tried += 1;
        }
    }
    println!(
        "hostile CLI input: {} strings x 6 arguments = {tried} calls, all refused with exit 2",
        corpus.len()
    );
}

#[test]
fn log_paths_written_into_run_json_are_never_opened() {
    let env = TestEnv::new("[[job]]\nid = \"a\"\ncommand = \"echo the real log\"\n");
    env.pikaci(&["run"]);
    let mut run: RunRecord = env.last_run();
    let secret = env.root.join("secret.txt");
    std::fs::write(&secret, "SECRET CONTENT").unwrap();
    run.jobs[0].host_log_path = secret.clone();
    run.jobs[0].guest_log_path = "/etc/passwd".into();
    env.store().persist_run_record(&run).unwrap();
    let out = env.pikaci(&["logs", run.run_id.as_str()]);
    let text = stdout(&out);
    assert!(text.contains("the real log"), "{text}");
    assert!(
        !text.contains("SECRET") && !text.contains("root:"),
        "{text}"
    );
    let out = env.pikaci(&["logs", run.run_id.as_str(), "--metadata-json"]);
    let meta: pikaci_core::RunLogsMetadata = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        meta.jobs[0].host_log_path,
        env.store()
            .root()
            .job_log(&run.run_id, &run.jobs[0].id, LogFile::Host)
    );
}

#[test]
fn a_log_planted_as_a_symlink_is_refused() {
    let env = TestEnv::new("[[job]]\nid = \"a\"\ncommand = \"echo x\"\n");
    env.pikaci(&["run"]);
    let run = env.last_run();
    let secret = env.root.join("secret.txt");
    std::fs::write(&secret, "SECRET CONTENT").unwrap();
    let log = env
        .store()
        .root()
        .job_log(&run.run_id, &run.jobs[0].id, LogFile::Guest);
    std::fs::remove_file(&log).unwrap();
    std::os::unix::fs::symlink(&secret, &log).unwrap();
    let out = env.pikaci(&["logs", run.run_id.as_str(), "--kind", "guest"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert!(!stdout(&out).contains("SECRET"));
}

/// A run record (which a branch's CI code can write) with newlines and
/// terminal escapes in its texts: `list` keeps one row per run, and neither
/// `list`, `status`, `logs` nor `run`'s progress lets an escape through.
#[test]
fn record_texts_cannot_forge_rows_or_reach_the_terminal() {
    let env = TestEnv::new(
        "[[job]]\nid = \"a\"\ndescription = \"desc\\u001b]0;owned\\u0007\\nFAKE\"\ncommand = \"exit 3\"\n",
    );
    let run = env.pikaci(&["run"]);
    let mut rec = env.last_run();
    rec.message =
        Some("fine\n20991231T000000Z-00000000 passed   -   1/1    all good\x1b[2J".into());
    rec.git_head = Some("\x1b[31mred".into());
    rec.jobs[0].message = Some("oops\r\x1b[Kpassed".into());
    let mut json = serde_json::to_value(&rec).unwrap();
    json["jobs"][0]["executor"] = "host\u{9b}31m".into();
    let rec: RunRecord = serde_json::from_value(json).unwrap();
    env.store().persist_run_record(&rec).unwrap();

    let list = env.pikaci(&["list"]);
    let status = env.pikaci(&["status", rec.run_id.as_str()]);
    let logs = env.pikaci(&["logs", rec.run_id.as_str()]);
    // A job's logs are printed as they are (like `cat`); pikaci's own lines
    // in them, and the headers, are escaped.
    let headers: String = stdout(&logs)
        .lines()
        .filter(|l| l.starts_with("==>") || l.starts_with("[pikaci]"))
        .collect();
    assert!(headers.contains("==> host.log <=="), "{headers}");
    for (what, text) in [
        ("run", format!("{}{}", stdout(&run), stderr(&run))),
        ("list", format!("{}{}", stdout(&list), stderr(&list))),
        ("status", format!("{}{}", stdout(&status), stderr(&status))),
        ("logs", headers),
    ] {
        assert!(
            !text.chars().any(|c| c != '\n' && c.is_control()),
            "{what} printed a control character: {text:?}"
        );
    }
    let rows = stdout(&list);
    assert_eq!(rows.lines().count(), 2, "{rows}");
    assert!(rows.contains("fine\\n20991231T000000Z-00000000"), "{rows}");
    assert!(
        stdout(&run).contains("desc\\x1b]0;owned\\x07\\nFAKE"),
        "{}",
        stdout(&run)
    );
}

/// Runs `pikaci args...` with a time limit: a read that waits on a FIFO would
/// hang forever. Returns the output, or fails after 20 s.
fn pikaci_within(env: &TestEnv, args: &[&str]) -> std::process::Output {
    let child = env
        .cmd()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output().unwrap()));
    match rx.recv_timeout(std::time::Duration::from_secs(20)) {
        Ok(out) => out,
        Err(_) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            panic!("pikaci {args:?} hung");
        }
    }
}

/// A job (or anyone who can write the state root) puts a FIFO where a log or
/// `run.json` should be: every read says so at once and never waits on it,
/// `logs --follow` of a finished run included.
#[test]
fn a_fifo_in_place_of_a_log_or_record_is_refused_at_once() {
    let env = TestEnv::new("[[job]]\nid = \"a\"\ncommand = \"echo hi\"\n");
    assert_eq!(env.pikaci(&["run"]).status.code(), Some(0));
    let run = env.last_run();
    let id = run.run_id.as_str();
    let guest = env.state.join(format!("runs/{id}/jobs/a/guest.log"));
    std::fs::remove_file(&guest).unwrap();
    nix::unistd::mkfifo(
        guest.as_std_path(),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    for args in [
        vec!["logs", id, "--follow"],
        vec!["logs", id, "--kind", "guest"],
        vec!["logs", id, "--tail", "100"],
    ] {
        let out = pikaci_within(&env, &args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(
            err.contains("guest.log is a FIFO, not a file"),
            "{args:?}: {err}"
        );
        assert!(!err.contains(env.root.as_str()), "{err}");
    }
    let record = env.state.join(format!("runs/{id}/run.json"));
    std::fs::remove_file(&record).unwrap();
    nix::unistd::mkfifo(
        record.as_std_path(),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let out = pikaci_within(&env, &["status", id]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("run.json is a FIFO, not a file"), "{err}");
}

/// A job plants a FIFO where the next job's log goes: pikaci does not wait on
/// it (nobody reads that FIFO), warns, and runs the next job all the same.
#[test]
fn a_fifo_planted_as_a_later_jobs_log_does_not_stop_the_run() {
    let env = TestEnv::new(
        "[[job]]\nid = \"a\"\ncommand = \"mkdir -p $PIKACI_WORKSPACE/../jobs/b && mkfifo $PIKACI_WORKSPACE/../jobs/b/guest.log\"\n\
         [[job]]\nid = \"b\"\ncommand = \"echo b ran > $PIKACI_SOURCE_ROOT/../b.out\"\nneeds = [\"a\"]\n",
    );
    let out = pikaci_within(&env, &["run"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("guest.log is a FIFO, not a file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(env.root.join("b.out")).unwrap(),
        "b ran\n"
    );
}

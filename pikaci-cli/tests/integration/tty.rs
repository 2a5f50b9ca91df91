//! What a person sees: colour on a real terminal (a pseudo-terminal made by
//! `script`, from util-linux), none with `NO_COLOR` or into a pipe; the last
//! lines of a failed job; Ctrl-C typed at the terminal.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pikaci_core::{FailureKind, RunStatus};

use crate::support::{TestEnv, stderr, stdout};

const FAILING: &str = "[[job]]\nid = \"build\"\ncommand = \"for i in $(seq 1 30); do echo line $i; done; exit 3\"\n\
[[job]]\nid = \"lint\"\ncommand = \"echo lint broke; exit 1\"\n\
[[job]]\nid = \"ok\"\ncommand = \"true\"\n";

/// `pikaci ARGS` on a pseudo-terminal (stdin, stdout and stderr all on it):
/// `script -qefc` runs the command there and copies what it prints.
fn on_terminal(env: &TestEnv, args: &str, extra_env: &[(&str, &str)]) -> Child {
    let bin = env!("CARGO_BIN_EXE_pikaci");
    let mut cmd = Command::new("script");
    cmd.args(["-qefc", &format!("exec '{bin}' {args}"), "/dev/null"])
        .current_dir(&env.repo)
        .env("PIKACI_STATE_ROOT", &env.state)
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    match cmd.spawn() {
        Ok(child) => child,
        Err(e) => panic!(
            "cannot run `script` ({e}): these tests need a pseudo-terminal from util-linux's \
             script; install it with `apt-get install bsdutils` (scripts/test-setup.sh does)"
        ),
    }
}

fn finish(mut child: Child) -> (Option<i32>, String) {
    drop(child.stdin.take());
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    (status.code(), out)
}

#[test]
fn colour_on_a_terminal_none_with_no_color_or_a_pipe() {
    let env = TestEnv::new(FAILING);
    let (code, out) = finish(on_terminal(&env, "run", &[]));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("\x1b[1;31m✗ FAIL\x1b[0m   build"), "{out:?}");
    assert!(out.contains("\x1b[32m✓ pass\x1b[0m   ok"), "{out:?}");

    let (code, out) = finish(on_terminal(&env, "run", &[("NO_COLOR", "1")]));
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("  FAIL   build"), "{out:?}");
    assert!(!out.contains("\x1b[1;31m") && !out.contains('✗'), "{out:?}");

    let (code, out) = finish(on_terminal(&env, "run --color never", &[]));
    assert_eq!(code, Some(1), "{out}");
    assert!(!out.contains("\x1b[1;31m") && !out.contains('✗'), "{out:?}");

    let piped = env.pikaci(&["run"]);
    let text = stdout(&piped);
    assert!(text.contains("  FAIL   build"), "{text}");
    assert!(!text.contains('\x1b'), "{text:?}");
    let forced = env.pikaci(&["run", "--color", "always"]);
    assert!(
        stdout(&forced).contains("\x1b[1;31m✗ FAIL"),
        "{}",
        stdout(&forced)
    );
}

#[test]
fn a_failed_job_shows_its_last_lines_and_every_failure_says_how_to_read_why() {
    let env = TestEnv::new(FAILING);
    let out = env.pikaci(&["run"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let build = text.find("  FAIL   build").expect(&text);
    let excerpt: Vec<&str> = text[build..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("      | "))
        .collect();
    let want: Vec<String> = (11..=30).map(|i| format!("      | line {i}")).collect();
    assert_eq!(excerpt, want, "{text}");
    assert!(text.contains("  FAIL   lint in "), "{text}");
    assert!(text.contains("      | lint broke\n"), "{text}");
    let run = env.last_run();
    for job in ["build", "lint"] {
        let line = format!(
            "  read why: pikaci logs {} --job {job} --tail 200\n",
            run.run_id
        );
        assert!(text.contains(&line), "{line} in {text}");
    }
    assert!(
        text.contains(&format!("{} failed in ", run.run_id)),
        "{text}"
    );

    let out = env.pikaci(&["run", "--failure-lines", "0"]);
    assert!(!stdout(&out).contains("      | "), "{}", stdout(&out));
    let out = env.pikaci(&["run", "--failure-lines", "2"]);
    assert!(
        stdout(&out).contains("      | line 29\n      | line 30\n  "),
        "{}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("line 28"), "{}", stdout(&out));
}

#[test]
fn ctrl_c_at_the_terminal_cancels_records_why_and_exits_130() {
    let env = TestEnv::new("[[job]]\nid = \"long\"\ncommand = \"sleep 300\"\n");
    let mut child = on_terminal(&env, "run", &[]);
    env.wait_for_run("the job to be running", |r| {
        r.jobs.iter().any(|j| j.status == RunStatus::Running)
    });
    // ^C typed at the terminal: the line discipline sends SIGINT to the
    // foreground process group, pikaci.
    child.stdin.as_mut().unwrap().write_all(b"\x03").unwrap();
    child.stdin.as_mut().unwrap().flush().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "pikaci did not stop on ^C");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, out) = finish(child);
    assert_eq!(code, Some(130), "{out}");
    let run = env.last_run();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.failure_kind, Some(FailureKind::Cancelled));
    assert_eq!(
        run.cancel_reason.as_deref(),
        Some("interrupted (SIGINT, Ctrl-C)")
    );
    assert!(out.contains("cancelled"), "{out}");
    let status = stdout(&env.pikaci(&["status", "latest"]));
    assert!(
        status.contains("status  cancelled: interrupted (SIGINT, Ctrl-C)"),
        "{status}"
    );
}

#[test]
fn a_closed_pipe_is_a_quiet_141() {
    let env = TestEnv::new(
        "[[job]]\nid = \"big\"\ncommand = \"yes 'a line of output' | head -c 4000000\"\n",
    );
    assert!(env.pikaci(&["run"]).status.success());
    // A real `| head -1`: head exits after one line, the log is far bigger
    // than the pipe's buffer.
    let bin = env!("CARGO_BIN_EXE_pikaci");
    for args in [
        "logs latest --kind guest",
        "generate completions bash",
        "generate man",
        "list",
        "status latest",
    ] {
        let out = Command::new("bash")
            .args([
                "-c",
                &format!("'{bin}' {args} | head -1 >/dev/null; echo \"rc=${{PIPESTATUS[0]}}\""),
            ])
            .current_dir(&env.repo)
            .env("PIKACI_STATE_ROOT", &env.state)
            .output()
            .unwrap();
        let rc = stdout(&out);
        // Short outputs may be written whole before head exits: then 0.
        assert!(rc == "rc=141\n" || rc == "rc=0\n", "{args}: {rc}");
        assert_eq!(stderr(&out), "", "{args}");
        if args.starts_with("logs") {
            assert_eq!(rc, "rc=141\n", "{args}");
        }
    }
    // A pipe whose reader is already gone: every write fails.
    for args in [&["list"][..], &["status", "latest"], &["targets"]] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = env.cmd().args(args).stdout(writer).output().unwrap();
        assert_eq!(out.status.code(), Some(141), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

//! `pikaci-incus-run` run for real, with its root relocated to a temp folder.

use std::process::{Command, Output};

use pikaci_incus::guest::{EXIT_BAD_SPEC, EXIT_CANCELLED, EXIT_TIMEOUT, GuestResult, GuestStatus};

use crate::support::{TestDir, gone_soon, guest_bin};

struct Guest {
    dir: TestDir,
}

impl Guest {
    fn new() -> Self {
        let dir = TestDir::new();
        dir.dir("root/workspace/snapshot");
        dir.dir("root/artifacts");
        std::fs::write(
            dir.path.join("root/workspace/snapshot/marker"),
            "in the snapshot\n",
        )
        .unwrap();
        Self { dir }
    }

    fn run(&self, vars: &[(&str, &str)]) -> Output {
        Command::new(guest_bin())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("PIKACI_INCUS_GUEST_ROOT", self.dir.path.join("root"))
            .envs(vars.iter().copied())
            .output()
            .unwrap()
    }

    fn job(&self, command: &str, timeout: &str, root: &str) -> Output {
        self.run(&[
            ("PIKACI_INCUS_GUEST_COMMAND", command),
            ("PIKACI_INCUS_TIMEOUT_SECS", timeout),
            ("PIKACI_INCUS_RUN_AS_ROOT", root),
        ])
    }

    fn result(&self) -> GuestResult {
        let bytes = std::fs::read(self.dir.path.join("root/artifacts/result.json")).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path.join("root/artifacts/guest.log")).unwrap()
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn a_missing_variable_is_a_clear_error_with_its_exit_code() {
    let g = Guest::new();
    let out = g.run(&[
        ("PIKACI_INCUS_GUEST_COMMAND", "true"),
        ("PIKACI_INCUS_RUN_AS_ROOT", "0"),
    ]);
    assert_eq!(out.status.code(), Some(EXIT_BAD_SPEC));
    assert!(
        stdout(&out).contains("PIKACI_INCUS_TIMEOUT_SECS is not set"),
        "{out:?}"
    );
    let r = g.result();
    assert_eq!(r.status, GuestStatus::Error);
    assert!(r.message.unwrap().contains("PIKACI_INCUS_TIMEOUT_SECS"));
}

#[test]
fn a_bad_variable_is_refused() {
    let g = Guest::new();
    let out = g.job("true", "10", "yes");
    assert_eq!(out.status.code(), Some(EXIT_BAD_SPEC));
    assert!(stdout(&out).contains("PIKACI_INCUS_RUN_AS_ROOT"), "{out:?}");
}

#[test]
fn root_mode_runs_as_root_in_the_snapshot_and_tees_output() {
    let g = Guest::new();
    let out = g.job(
        "id -u; pwd; cat marker; echo to-stderr >&2; echo after",
        "30",
        "1",
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("pikaci-incus-run: running as root"),
        "{text}"
    );
    assert_eq!(lines[1], "0");
    assert!(lines[2].ends_with("/root/workspace/snapshot"), "{text}");
    assert_eq!(
        &lines[3..6],
        ["in the snapshot", "to-stderr", "after"],
        "stderr keeps its place"
    );
    assert_eq!(g.log(), text, "guest.log holds exactly what stdout got");
    let r = g.result();
    assert_eq!((r.status, r.exit_code), (GuestStatus::Passed, Some(0)));
}

#[test]
fn user_mode_switches_to_uid_1000() {
    let g = Guest::new();
    let out = g.job(
        "id -u; id -g; echo $HOME $USER; echo \"hand-over:${PIKACI_INCUS_GUEST_COMMAND:-gone}\"",
        "30",
        "0",
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("running as pikaci (uid 1000)"), "{text}");
    assert!(
        text.contains("\n1000\n1000\n/home/pikaci pikaci\n"),
        "{text}"
    );
}

#[test]
fn the_exit_code_is_the_commands() {
    let g = Guest::new();
    let out = g.job("echo failing; exit 42", "30", "1");
    assert_eq!(out.status.code(), Some(42));
    let r = g.result();
    assert_eq!((r.status, r.exit_code), (GuestStatus::Failed, Some(42)));
    assert!(g.log().contains("failing\n"));
}

#[test]
fn quotes_dollars_newlines_and_non_ascii_reach_bash_intact() {
    let g = Guest::new();
    let cmd = "X='it'\"'\"'s'\nprintf '%s|%s|%s\\n' \"$X\" '$HOME' \"grüße 🦀 \\\"q\\\"\"";
    let out = g.job(cmd, "30", "1");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout(&out).contains("it's|$HOME|grüße 🦀 \"q\"\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn the_timeout_kills_the_whole_process_group() {
    let g = Guest::new();
    let pidfile = g.dir.path.join("bg.pid");
    let cmd = format!("sleep 300 & echo $! > {pidfile}; echo started; sleep 300");
    let out = g.job(&cmd, "1", "1");
    assert_eq!(out.status.code(), Some(EXIT_TIMEOUT), "{out:?}");
    let r = g.result();
    assert_eq!(r.status, GuestStatus::Timeout);
    assert!(r.message.unwrap().contains("timed out after 1s"));
    assert!(g.log().contains("started\n"));
    let bg: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        gone_soon(bg),
        "background process {bg} survived the timeout"
    );
}

/// What `incus exec` does when the host cancels a job: SIGTERM to the guest
/// binary. The command's trap runs at once, its process group is stopped,
/// and `result.json` says cancelled.
#[test]
fn a_sigterm_to_the_guest_reaches_the_commands_trap_and_ends_cancelled() {
    let g = Guest::new();
    let pidfile = g.dir.path.join("bg.pid");
    let cmd = format!(
        "trap 'echo got-term; exit 0' TERM; sleep 300 & echo $! > {pidfile}; echo started; \
         while :; do sleep 0.1; done"
    );
    let mut child = Command::new(guest_bin())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("PIKACI_INCUS_GUEST_ROOT", g.dir.path.join("root"))
        .env("PIKACI_INCUS_GUEST_COMMAND", &cmd)
        .env("PIKACI_INCUS_TIMEOUT_SECS", "60")
        .env("PIKACI_INCUS_RUN_AS_ROOT", "1")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let log = g.dir.path.join("root/artifacts/guest.log");
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("started")) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let told = std::time::Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(EXIT_CANCELLED));
    assert!(
        told.elapsed() < std::time::Duration::from_secs(2),
        "the trap ran at once, not after the grace: {:?}",
        told.elapsed()
    );
    let r = g.result();
    assert_eq!(r.status, GuestStatus::Cancelled);
    assert!(r.message.unwrap().starts_with("cancelled"));
    assert!(g.log().contains("got-term"), "{}", g.log());
    let bg: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(gone_soon(bg), "background process {bg} survived the stop");
}

#[test]
fn a_missing_workspace_is_a_guest_error() {
    let g = Guest::new();
    std::fs::remove_dir_all(g.dir.path.join("root/workspace/snapshot")).unwrap();
    let out = g.job("true", "10", "1");
    assert_eq!(
        out.status.code(),
        Some(pikaci_incus::guest::EXIT_GUEST_ERROR)
    );
    assert_eq!(g.result().status, GuestStatus::Error);
    assert!(g.log().contains("could not start bash"), "{}", g.log());
}

#[test]
fn the_job_gets_writable_cargo_and_xdg_folders_of_its_own() {
    let g = Guest::new();
    let out = g.job(
        "for v in CARGO_HOME CARGO_TARGET_DIR XDG_CACHE_HOME XDG_CONFIG_HOME XDG_DATA_HOME XDG_STATE_HOME; \
         do d=${!v}; touch \"$d/probe\" && echo \"$v writable\"; done; \
         echo \"$CARGO_INCREMENTAL $CARGO_TERM_COLOR\"; stat -c %u \"$CARGO_HOME\"",
        "30",
        "0",
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    for v in [
        "CARGO_HOME",
        "CARGO_TARGET_DIR",
        "XDG_CACHE_HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_STATE_HOME",
    ] {
        assert!(text.contains(&format!("{v} writable\n")), "{text}");
    }
    assert!(text.contains("\n0 never\n1000\n"), "{text}");
    let home = g.dir.path.join("root/var/tmp/pikaci/cargo-home");
    assert!(home.is_dir(), "{home}");
}

//! Runs one lane in its worktree: a reduced environment, its own process
//! group, a wall-clock timeout, output to the lane log, and pikaci's events
//! read from its stdout as they come.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use camino::Utf8PathBuf;
use pikaci_core::engine::process::{ChildEnd, supervise};
use pikaci_core::{FailureKind, LifecycleEvent, RunId, RunRecord};
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

use super::manifest::LaneCommand;
use crate::db::LaneStatus;

/// The longest stdout line parsed as an event; longer lines are only logged.
const MAX_EVENT_LINE: usize = 1 << 20;

/// Variables a lane's child always keeps (plus every `PIKACI_*` and the config's allow-list).
const BASE_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "USER",
    "LOGNAME",
    "TMPDIR",
    "CARGO_HOME",
    "RUSTUP_HOME",
];

/// Everything needed to run one lane.
#[derive(Debug, Clone)]
pub struct LaneRunSpec {
    /// What to run.
    pub command: LaneCommand,
    /// The worktree to run in.
    pub worktree: Utf8PathBuf,
    /// The `pikaci` binary, for pikaci lanes.
    pub pikaci_bin: Utf8PathBuf,
    /// The repository's state root, set as `PIKACI_STATE_ROOT`.
    pub pikaci_state_root: Utf8PathBuf,
    /// Extra variable names the child may keep.
    pub env_allow: Vec<String>,
    /// The parent environment to filter (a seam: tests pass their own).
    pub parent_env: BTreeMap<String, String>,
    /// The wall-clock limit.
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// Where the lane's output goes.
    pub log_path: Utf8PathBuf,
}

/// Something a pikaci lane said while running.
#[derive(Debug, Clone, PartialEq)]
pub enum LaneEvent {
    /// `run_started`: the pikaci run id, the moment it is known.
    PikaciRunStarted(RunId),
    /// `run_finished`: the final record.
    PikaciRunFinished(Box<RunRecord>),
}

/// How a lane ended.
#[derive(Debug, Clone, PartialEq)]
pub struct LaneOutcome {
    /// `passed`, `failed` or `cancelled`.
    pub status: LaneStatus,
    /// Why it failed.
    pub failure_kind: Option<FailureKind>,
    /// The exit code, when it exited by itself.
    pub exit_code: Option<i32>,
    /// A one-line summary.
    pub message: String,
    /// The pikaci run it started, if any.
    pub pikaci_run_id: Option<RunId>,
}

/// The child's environment: only allowed variables survive.
pub fn allowed_env(
    parent: &BTreeMap<String, String>,
    extra: &[String],
) -> BTreeMap<String, String> {
    parent
        .iter()
        .filter(|(k, _)| {
            BASE_ENV.contains(&k.as_str())
                || k.starts_with("PIKACI_")
                || extra.iter().any(|e| e == *k)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// How an ended child maps to a lane outcome.
pub fn classify(
    command: &LaneCommand,
    end: ChildEnd,
    timeout: Duration,
) -> (LaneStatus, Option<FailureKind>, String) {
    let pikaci = matches!(command, LaneCommand::PikaciTarget(_));
    match end {
        ChildEnd::Exited(Some(0)) => (LaneStatus::Passed, None, "passed".into()),
        ChildEnd::Exited(Some(1)) if pikaci => (
            LaneStatus::Failed,
            Some(FailureKind::TestFailure),
            "a pikaci job failed".into(),
        ),
        ChildEnd::Exited(Some(c @ (2 | 3))) if pikaci => (
            LaneStatus::Failed,
            Some(FailureKind::Infrastructure),
            format!("pikaci could not run the lane (exit {c})"),
        ),
        ChildEnd::Exited(Some(c)) => (
            LaneStatus::Failed,
            Some(FailureKind::TestFailure),
            format!("the lane exited with {c}"),
        ),
        ChildEnd::Exited(None) => (
            LaneStatus::Failed,
            Some(FailureKind::Infrastructure),
            "the lane was killed by a signal".into(),
        ),
        ChildEnd::TimedOut => (
            LaneStatus::Failed,
            Some(FailureKind::Timeout),
            format!(
                "timed out after {}s; the lane's processes were stopped",
                timeout.as_secs()
            ),
        ),
        ChildEnd::Cancelled => (
            LaneStatus::Cancelled,
            Some(FailureKind::Cancelled),
            "cancelled".into(),
        ),
    }
}

fn infrastructure(message: String) -> LaneOutcome {
    LaneOutcome {
        status: LaneStatus::Failed,
        failure_kind: Some(FailureKind::Infrastructure),
        exit_code: None,
        message,
        pikaci_run_id: None,
    }
}

/// Splits stdout into lines for event parsing, logging everything as it comes.
struct LineSplitter {
    pending: Vec<u8>,
    overflow: bool,
}

impl LineSplitter {
    fn push(&mut self, bytes: &[u8], mut line: impl FnMut(&[u8])) {
        for &b in bytes {
            if b == b'\n' {
                if !self.overflow {
                    line(&self.pending);
                }
                self.pending.clear();
                self.overflow = false;
            } else if !self.overflow {
                self.pending.push(b);
                if self.pending.len() > MAX_EVENT_LINE {
                    self.pending.clear();
                    self.overflow = true;
                }
            }
        }
    }
}

/// Runs the lane to its end.
pub async fn run_lane(
    spec: LaneRunSpec,
    cancel: CancellationToken,
    mut on_event: impl FnMut(LaneEvent) + Send,
) -> LaneOutcome {
    if let Some(dir) = spec.log_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let log = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log_path)
    {
        Ok(f) => f,
        Err(e) => return infrastructure(format!("cannot open the lane log: {e}")),
    };
    let (program, args): (String, Vec<String>) = match &spec.command {
        LaneCommand::Argv(argv) => (argv[0].clone(), argv[1..].to_vec()),
        LaneCommand::PikaciTarget(t) => (
            spec.pikaci_bin.to_string(),
            vec![
                "run".into(),
                t.to_string(),
                "--output".into(),
                "jsonl".into(),
            ],
        ),
    };
    let _ = writeln!(
        &log,
        "[pika-news] running {program} {} in {}",
        args.join(" "),
        spec.worktree
    );
    let mut cmd = tokio::process::Command::new(&program);
    cmd.args(&args)
        .current_dir(&spec.worktree)
        .env_clear()
        .envs(allowed_env(&spec.parent_env, &spec.env_allow))
        .stdin(Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    if let LaneCommand::PikaciTarget(_) = spec.command {
        cmd.env("PIKACI_STATE_ROOT", &spec.pikaci_state_root);
    }
    let (Ok(out_log), Ok(err_log)) = (log.try_clone(), log.try_clone()) else {
        return infrastructure("cannot share the lane log".into());
    };
    cmd.stderr(err_log);
    let pikaci = matches!(spec.command, LaneCommand::PikaciTarget(_));
    if pikaci {
        cmd.stdout(Stdio::piped());
    } else {
        cmd.stdout(out_log);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(&log, "[pika-news] could not start {program}: {e}");
            return infrastructure(format!("could not start {program}: {e}"));
        }
    };
    drop(cmd);

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let reader = child.stdout.take().map(|mut stdout| {
        let log = log.try_clone().ok();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut lines = LineSplitter {
                pending: Vec::new(),
                overflow: false,
            };
            while let Ok(n) = stdout.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if let Some(l) = &log {
                    let _ = (&*l).write_all(&buf[..n]);
                }
                lines.push(&buf[..n], |line| {
                    if let Ok(ev) = serde_json::from_slice::<LifecycleEvent>(line) {
                        let _ = tx.send(ev);
                    }
                });
            }
        })
    });

    let mut pikaci_run_id = None;
    let mut handle = |ev: LifecycleEvent, id: &mut Option<RunId>| match ev {
        LifecycleEvent::RunStarted { run_id, .. } => {
            *id = Some(run_id.clone());
            on_event(LaneEvent::PikaciRunStarted(run_id));
        }
        LifecycleEvent::RunFinished { run } => {
            on_event(LaneEvent::PikaciRunFinished(Box::new(run)))
        }
        _ => {}
    };
    let supervised = supervise(&mut child, spec.timeout, spec.kill_grace, &cancel);
    tokio::pin!(supervised);
    let mut events_open = reader.is_some();
    let end = loop {
        tokio::select! {
            ev = rx.recv(), if events_open => match ev {
                Some(ev) => handle(ev, &mut pikaci_run_id),
                None => events_open = false,
            },
            end = &mut supervised => break end,
        }
    };
    // The group is gone; take the last events, but never wait on an escaped process.
    if let Some(r) = reader {
        let _ = tokio::time::timeout(Duration::from_secs(2), r).await;
    }
    while let Ok(ev) = rx.try_recv() {
        handle(ev, &mut pikaci_run_id);
    }
    let end = match end {
        Ok(e) => e,
        Err(e) => return infrastructure(format!("waiting for the lane failed: {e}")),
    };
    let (status, failure_kind, message) = classify(&spec.command, end, spec.timeout);
    let _ = writeln!(&log, "[pika-news] lane {}: {message}", status.as_str());
    LaneOutcome {
        status,
        failure_kind,
        exit_code: match end {
            ChildEnd::Exited(c) => c,
            _ => None,
        },
        message,
        pikaci_run_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dir: &tempfile::TempDir, command: LaneCommand, timeout_ms: u64) -> LaneRunSpec {
        let root = Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();
        LaneRunSpec {
            command,
            worktree: root.clone(),
            pikaci_bin: root.join("fake-pikaci"),
            pikaci_state_root: root.join("state"),
            env_allow: vec!["ALLOWED_EXTRA".into()],
            parent_env: BTreeMap::from([
                ("PATH".to_owned(), std::env::var("PATH").unwrap()),
                ("SECRET_TOKEN".to_owned(), "hunter2".to_owned()),
                ("ALLOWED_EXTRA".to_owned(), "yes".to_owned()),
                ("PIKACI_X".to_owned(), "kept".to_owned()),
            ]),
            timeout: Duration::from_millis(timeout_ms),
            kill_grace: Duration::from_millis(200),
            log_path: root.join("logs/lane.log"),
        }
    }

    fn argv(script: &str) -> LaneCommand {
        LaneCommand::Argv(vec!["bash".into(), "-c".into(), script.into()])
    }

    #[test]
    fn classification() {
        let p = LaneCommand::PikaciTarget("t".parse().unwrap());
        let a = argv("x");
        let t = Duration::from_secs(5);
        assert_eq!(
            classify(&p, ChildEnd::Exited(Some(0)), t).0,
            LaneStatus::Passed
        );
        assert_eq!(
            classify(&p, ChildEnd::Exited(Some(1)), t).1,
            Some(FailureKind::TestFailure)
        );
        assert_eq!(
            classify(&p, ChildEnd::Exited(Some(3)), t).1,
            Some(FailureKind::Infrastructure)
        );
        assert_eq!(
            classify(&a, ChildEnd::Exited(Some(3)), t).1,
            Some(FailureKind::TestFailure)
        );
        assert_eq!(
            classify(&a, ChildEnd::TimedOut, t).1,
            Some(FailureKind::Timeout)
        );
        assert_eq!(
            classify(&a, ChildEnd::Cancelled, t).0,
            LaneStatus::Cancelled
        );
    }

    #[test]
    fn only_allowed_variables_reach_the_child() {
        let d = tempfile::tempdir().unwrap();
        let env = allowed_env(
            &spec(&d, argv("x"), 1).parent_env,
            &["ALLOWED_EXTRA".into()],
        );
        assert!(
            env.contains_key("PATH")
                && env.contains_key("PIKACI_X")
                && env.contains_key("ALLOWED_EXTRA")
        );
        assert!(!env.contains_key("SECRET_TOKEN"));
    }

    #[test]
    fn long_lines_are_not_parsed_and_memory_stays_bounded() {
        let mut s = LineSplitter {
            pending: Vec::new(),
            overflow: false,
        };
        let mut seen = Vec::new();
        s.push(&vec![b'x'; MAX_EVENT_LINE + 10], |l| seen.push(l.len()));
        assert!(s.pending.len() <= MAX_EVENT_LINE);
        s.push(b"tail\nok\n", |l| seen.push(l.len()));
        assert_eq!(seen, [2]);
    }

    #[tokio::test]
    async fn a_pikaci_lane_reports_its_run_the_moment_it_starts() {
        let d = tempfile::tempdir().unwrap();
        let s = spec(&d, LaneCommand::PikaciTarget("ci".parse().unwrap()), 10_000);
        let started = r#"{"event":"run_started","run_id":"20260324T161238Z-1a2b3c4d","created_at":"2026-03-24T16:12:38Z"}"#;
        let marker = d.path().join("saw-event");
        // The fake pikaci waits until the event was handled, then ends.
        std::fs::write(
            &s.pikaci_bin,
            format!(
                "#!/bin/bash\necho \"args: $*\" >&2\necho \"state: $PIKACI_STATE_ROOT secret: ${{SECRET_TOKEN:-none}}\" >&2\necho '{started}'\n\
                 for i in $(seq 200); do [ -e {m} ] && exit 1; sleep 0.02; done\nexit 9\n",
                m = marker.display()
            ),
        )
        .unwrap();
        std::process::Command::new("chmod")
            .args(["+x", s.pikaci_bin.as_str()])
            .status()
            .unwrap();
        let log = s.log_path.clone();
        let mut events = Vec::new();
        let outcome = run_lane(s, CancellationToken::new(), |ev| {
            std::fs::write(&marker, "").unwrap();
            events.push(ev);
        })
        .await;
        assert_eq!(
            events,
            [LaneEvent::PikaciRunStarted(
                "20260324T161238Z-1a2b3c4d".parse().unwrap()
            )]
        );
        assert_eq!(outcome.status, LaneStatus::Failed);
        assert_eq!(
            outcome.failure_kind,
            Some(FailureKind::TestFailure),
            "{outcome:?}"
        );
        assert_eq!(
            outcome.pikaci_run_id.unwrap().as_str(),
            "20260324T161238Z-1a2b3c4d"
        );
        let text = std::fs::read_to_string(log).unwrap();
        assert!(text.contains("args: run ci --output jsonl"), "{text}");
        assert!(text.contains("secret: none"), "{text}");
        assert!(text.contains("/state"), "{text}");
        assert!(text.contains("run_started"), "{text}");
    }

    #[tokio::test]
    async fn a_lane_ignoring_sigterm_is_killed_at_its_timeout() {
        let d = tempfile::tempdir().unwrap();
        let pidfile = d.path().join("pid");
        let s = spec(
            &d,
            argv(&format!(
                "trap '' TERM; (trap '' TERM; sleep 60) & echo $! > {}; sleep 60",
                pidfile.display()
            )),
            300,
        );
        let outcome = run_lane(s, CancellationToken::new(), |_| {}).await;
        assert_eq!(outcome.failure_kind, Some(FailureKind::Timeout));
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let mut gone = false;
        for _ in 0..200 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.is_empty()
                || stat
                    .rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(gone, "the grandchild survived");
    }

    #[tokio::test]
    async fn output_goes_to_the_log_and_a_missing_program_is_infrastructure() {
        let d = tempfile::tempdir().unwrap();
        let s = spec(
            &d,
            argv("echo to-out; echo to-err >&2; echo ${SECRET_TOKEN:-hidden}"),
            10_000,
        );
        let log = s.log_path.clone();
        let outcome = run_lane(s, CancellationToken::new(), |_| {}).await;
        assert_eq!(outcome.status, LaneStatus::Passed);
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(
            text.contains("to-out\n") && text.contains("to-err\n") && text.contains("hidden\n"),
            "{text}"
        );
        let s = spec(&d, LaneCommand::Argv(vec!["/no/such/program".into()]), 1000);
        let outcome = run_lane(s, CancellationToken::new(), |_| {}).await;
        assert_eq!(outcome.failure_kind, Some(FailureKind::Infrastructure));
    }
}

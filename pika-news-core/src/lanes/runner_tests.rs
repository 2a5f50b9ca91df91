use std::collections::BTreeMap;
use std::time::Instant;

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::process::ChildEnd;

use super::*;
use crate::lanes::events_log::MAX_EVENT_LINE;
use crate::sandbox::Confinement;
use pikaci_core::{LifecycleEvent, RunRecord};

const RUN_ID: &str = "20260324T161238Z-1a2b3c4d";

/// Bash for a fake pikaci: writes `RUN_ID`'s record naming this very
/// process (its pid and start time) as its owner, as pikaci does before it
/// announces the run, so the lane takes the run as its own.
fn own_record() -> String {
    own_record_of(RunRecord::for_test(RUN_ID))
}

/// Bash writing `record` as `RUN_ID`'s, owned by this very process.
fn own_record_of(mut record: RunRecord) -> String {
    record.owner = Some(pikaci_core::RunOwner {
        pid: 999_999_991,
        host: pikaci_core::this_host_name(),
        start_ticks: Some(999_999_992),
        lock: false,
    });
    let json = serde_json::to_string(&record).unwrap();
    format!(
        "mkdir -p \"$PIKACI_STATE_ROOT/runs/{RUN_ID}\"\n\
         ticks=$(sed 's/.*) //' /proc/$$/stat | cut -d' ' -f20)\n\
         printf '%s' '{json}' | sed \"s/999999991/$$/; s/999999992/$ticks/\" > \"$PIKACI_STATE_ROOT/runs/{RUN_ID}/run.json\"\n"
    )
}

fn started_line() -> String {
    format!(r#"{{"event":"run_started","run_id":"{RUN_ID}","created_at":"2026-03-24T16:12:38Z"}}"#)
}

fn finished_line() -> String {
    serde_json::to_string(&LifecycleEvent::RunFinished {
        run: RunRecord::for_test(RUN_ID),
    })
    .unwrap()
}

struct Env {
    dir: tempfile::TempDir,
    root: Utf8PathBuf,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();
        std::fs::create_dir(root.join("wt")).unwrap();
        Self { dir, root }
    }

    fn spec(&self, command: LaneCommand, timeout: Duration) -> LaneRunSpec {
        LaneRunSpec {
            command,
            worktree: self.root.join("wt"),
            pikaci_bin: self.root.join("bin/fake-pikaci"),
            pikaci_state_root: self.root.join("state"),
            branch: Some("feature/x".into()),
            env_allow: vec!["ALLOWED_EXTRA".into()],
            parent_env: BTreeMap::from([
                ("PATH".to_owned(), std::env::var("PATH").unwrap()),
                ("HOME".to_owned(), "/home/lane".to_owned()),
                ("SECRET_TOKEN".to_owned(), "hunter2".to_owned()),
                ("ALLOWED_EXTRA".to_owned(), "yes".to_owned()),
                ("PIKACI_X".to_owned(), "the-service's".to_owned()),
                (
                    "PIKACI_REMOTE_LINUX_VM_INCUS_PROJECT".to_owned(),
                    "kept".to_owned(),
                ),
            ]),
            timeout,
            kill_grace: Duration::from_millis(200),
            log_path: self.root.join("logs/deep/lane.log"),
            confinement: Confinement::default(),
            events_path: Some(self.root.join("logs/deep/lane.jsonl")),
            cgroup: None,
            home: None,
        }
    }

    /// A fake `pikaci` running `body` (bash).
    fn pikaci(&self, body: &str, timeout: Duration) -> LaneRunSpec {
        let spec = self.spec(LaneCommand::PikaciTarget("ci".parse().unwrap()), timeout);
        std::fs::create_dir_all(spec.pikaci_bin.parent().unwrap()).unwrap();
        std::fs::write(
            &spec.pikaci_bin,
            format!("#!/bin/bash\n{}{body}\n", own_record()),
        )
        .unwrap();
        std::process::Command::new("chmod")
            .args(["+x", spec.pikaci_bin.as_str()])
            .status()
            .unwrap();
        spec
    }

    fn path(&self, name: &str) -> Utf8PathBuf {
        self.root.join(name)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("logs/deep/lane.log")).unwrap()
    }
}

fn argv(script: &str) -> LaneCommand {
    LaneCommand::Argv(vec!["bash".into(), "-c".into(), script.into()])
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Waits (bounded) until a script has written a pid to `file`.
async fn pid_in(file: &Utf8Path) -> i32 {
    for _ in 0..500 {
        if let Ok(s) = std::fs::read_to_string(file)
            && s.ends_with('\n')
        {
            return s.trim().parse().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no pid in {file}");
}

/// Whether `pid` is gone (or a zombie waiting for init), waiting up to 2 s.
async fn gone(pid: i32) -> bool {
    for _ in 0..200 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.is_empty()
            || stat
                .rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[test]
fn classification() {
    let p = LaneCommand::PikaciTarget("t".parse().unwrap());
    let a = argv("x");
    let t = Duration::from_millis(1500);
    let cases = [
        (&p, ChildEnd::Exited(Some(0)), LaneStatus::Passed, None),
        (&a, ChildEnd::Exited(Some(0)), LaneStatus::Passed, None),
        (
            &p,
            ChildEnd::Exited(Some(1)),
            LaneStatus::Failed,
            Some(FailureKind::TestFailure),
        ),
        (
            &p,
            ChildEnd::Exited(Some(2)),
            LaneStatus::Failed,
            Some(FailureKind::Infrastructure),
        ),
        (
            &p,
            ChildEnd::Exited(Some(3)),
            LaneStatus::Failed,
            Some(FailureKind::Infrastructure),
        ),
        (
            &p,
            ChildEnd::Exited(Some(101)),
            LaneStatus::Failed,
            Some(FailureKind::Infrastructure),
        ),
        (
            &a,
            ChildEnd::Exited(Some(3)),
            LaneStatus::Failed,
            Some(FailureKind::TestFailure),
        ),
        // An argv lane is the code under test: a death by a signal nobody
        // here sent is its own failure, as for a job's command.
        (
            &a,
            ChildEnd::Exited(None),
            LaneStatus::Failed,
            Some(FailureKind::TestFailure),
        ),
        // pikaci itself killed: it could not report, so infrastructure.
        (
            &p,
            ChildEnd::Exited(None),
            LaneStatus::Failed,
            Some(FailureKind::Infrastructure),
        ),
        (
            &p,
            ChildEnd::TimedOut,
            LaneStatus::Failed,
            Some(FailureKind::Timeout),
        ),
        (
            &a,
            ChildEnd::Cancelled,
            LaneStatus::Cancelled,
            Some(FailureKind::Cancelled),
        ),
    ];
    for (command, end, status, kind) in cases {
        let (s, k, _) = classify(command, end, t);
        assert_eq!((s, k), (status, kind), "{command:?} {end:?}");
    }
    assert!(classify(&a, ChildEnd::TimedOut, t).2.contains("1.5s"));
    assert!(classify(&a, ChildEnd::Exited(Some(7)), t).2.contains('7'));
}

#[test]
fn only_allowed_variables_reach_the_child() {
    let env = Env::new();
    let spec = env.spec(argv("x"), secs(1));
    let kept = allowed_env(&spec.parent_env, &spec.env_allow);
    assert_eq!(
        kept.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "ALLOWED_EXTRA",
            "HOME",
            "PATH",
            "PIKACI_REMOTE_LINUX_VM_INCUS_PROJECT"
        ]
    );
    let kept = allowed_env(&spec.parent_env, &[]);
    assert!(!kept.contains_key("ALLOWED_EXTRA") && !kept.contains_key("SECRET_TOKEN"));
}

#[test]
fn the_log_shows_the_command_without_server_paths() {
    assert_eq!(
        shown_command(&LaneCommand::PikaciTarget("pre-merge".parse().unwrap())),
        "pikaci run pre-merge --output jsonl"
    );
    assert_eq!(
        shown_command(&LaneCommand::Argv(vec![
            "sh".into(),
            "-c".into(),
            "echo 'hi' && true".into(),
            String::new(),
        ])),
        r#"sh -c 'echo '\''hi'\'' && true' ''"#
    );
}

#[tokio::test]
async fn a_pikaci_lane_reports_its_run_the_moment_it_starts() {
    let env = Env::new();
    let marker = env.path("saw-event");
    // The fake pikaci only ends once the event was handled: had the event
    // waited for the end, it would exit 9 after its bounded wait instead.
    let spec = env.pikaci(
        &format!(
            "echo \"args: $*\" >&2\necho \"state: $PIKACI_STATE_ROOT secret: ${{SECRET_TOKEN:-none}} cwd: $PWD\" >&2\n\
             echo \"branch: ${{PIKACI_GIT_BRANCH:-none}}\" >&2\n\
             echo 'plain words'\necho '{}'\n\
             for i in $(seq 300); do [ -e {marker} ] && break; sleep 0.02; done\n[ -e {marker} ] || exit 9\n\
             echo '{}'\nexit 1",
            started_line(),
            finished_line()
        ),
        secs(30),
    );
    let state = spec.pikaci_state_root.clone();
    let mut events = Vec::new();
    let outcome = run_lane(spec, CancellationToken::new(), |ev| {
        std::fs::write(&marker, "").unwrap();
        events.push(ev);
    })
    .await;
    assert_eq!(
        events,
        [
            LaneEvent::PikaciRunStarted(RUN_ID.parse().unwrap()),
            LaneEvent::PikaciRunFinished(Box::new(RunRecord::for_test(RUN_ID))),
        ]
    );
    assert_eq!(outcome.status, LaneStatus::Failed);
    assert_eq!(outcome.failure_kind, Some(FailureKind::TestFailure));
    assert_eq!(outcome.exit_code, Some(1));
    assert_eq!(outcome.pikaci_run_id.unwrap().as_str(), RUN_ID);
    let text = env.log();
    assert!(text.contains("args: run ci --output jsonl"), "{text}");
    assert!(text.contains("secret: none"), "{text}");
    // Its worktree's HEAD is detached: the branch is named for the record.
    assert!(text.contains("branch: feature/x"), "{text}");
    // pikaci's stderr names the server's folders by words in the lane log.
    assert!(text.contains("state: state root "), "{text}");
    assert!(text.contains("cwd: worktree"), "{text}");
    assert!(!text.contains(state.as_str()), "{text}");
    // pikaci's events read as lines in the log, and stay raw beside it.
    assert!(
        text.contains("plain words\n")
            && text.contains(&format!("[pikaci] run started: {RUN_ID} · ci\n"))
            && text.contains(&format!(
                "[pikaci] run finished: {RUN_ID} · status=passed\n"
            )),
        "{text}"
    );
    assert!(!text.contains("\"event\""), "{text}");
    let raw = std::fs::read_to_string(env.path("logs/deep/lane.jsonl")).unwrap();
    assert!(
        raw.contains(&started_line()) && raw.contains("plain words"),
        "{raw}"
    );
    assert!(
        text.starts_with("[pika-news] running: pikaci run ci --output jsonl\n"),
        "{text}"
    );
    assert!(!text.contains("fake-pikaci"), "{text}");
    assert!(
        text.ends_with("[pika-news] lane failed: a pikaci job failed\n"),
        "{text}"
    );
}

#[tokio::test]
async fn a_failed_pikaci_lane_says_what_its_run_says_failed() {
    let env = Env::new();
    let mut failed = RunRecord::for_test(RUN_ID);
    failed.status = pikaci_core::RunStatus::Failed;
    failed.jobs[0].status = pikaci_core::RunStatus::Failed;
    failed.jobs[0].failure_kind = Some(FailureKind::TestFailure);
    failed.jobs[0].exit_code = Some(101);
    // The record says how the run ended, then the run is announced and
    // pikaci exits 1 (a job failed).
    let spec = env.pikaci(
        &format!("{}echo '{}'\nexit 1", own_record_of(failed), started_line()),
        secs(30),
    );
    let outcome = run_lane(spec, CancellationToken::new(), |_| {}).await;
    assert_eq!(outcome.status, LaneStatus::Failed);
    assert_eq!(outcome.failure_kind, Some(FailureKind::TestFailure));
    assert_eq!(outcome.message, "failed: build (exit 101)");
    let text = env.log();
    assert!(
        text.ends_with("[pika-news] lane failed: failed: build (exit 101)\n"),
        "{text}"
    );
}

/// Upstream's lane form: `nix run .#pikaci -- run T` through a `nix` on the
/// lane's PATH that becomes pikaci (as `nix run` does): run as written with
/// `--output jsonl` appended and the state root set, read as a pikaci lane.
#[tokio::test]
async fn an_argv_that_runs_pikaci_is_a_pikaci_lane() {
    let env = Env::new();
    let bin = env.path("nix-bin");
    std::fs::create_dir(&bin).unwrap();
    // A fake pikaci (its record names this process) that `nix` execs.
    let pikaci = env.pikaci(
        &format!(
            "echo \"args: $*\" >&2\necho \"state: $PIKACI_STATE_ROOT\" >&2\n\
             echo '{}'\necho '{}'\nexit 0",
            started_line(),
            finished_line()
        ),
        secs(30),
    );
    std::fs::write(
        bin.join("nix"),
        format!(
            "#!/bin/bash\necho \"nix: $*\" >&2\n\
             [ \"$1 $2 $3\" = 'run .#pikaci --' ] || exit 7\nshift 3\nexec {} \"$@\"\n",
            pikaci.pikaci_bin
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x", bin.join("nix").as_str()])
        .status()
        .unwrap();
    let words = ["nix", "run", ".#pikaci", "--", "run", "ci"].map(String::from);
    let command = LaneCommand::of_argv(&words).unwrap();
    assert_eq!(command.pikaci_target().map(|t| t.as_str()), Some("ci"));
    let mut spec = env.spec(command, secs(30));
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap());
    spec.parent_env.insert("PATH".into(), path);
    let mut events = Vec::new();
    let outcome = run_lane(spec, CancellationToken::new(), |ev| events.push(ev)).await;
    let text = env.log();
    assert_eq!(outcome.status, LaneStatus::Passed, "{text}");
    assert_eq!(
        outcome.pikaci_run_id.map(|r| r.to_string()).as_deref(),
        Some(RUN_ID),
        "{text}"
    );
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        text.starts_with("[pika-news] running: nix run '.#pikaci' -- run ci --output jsonl\n"),
        "{text}"
    );
    assert!(text.contains("args: run ci --output jsonl\n"), "{text}");
    assert!(text.contains("state: state root\n"), "{text}");
    assert!(
        text.contains(&format!("[pikaci] run started: {RUN_ID} · ci\n")),
        "{text}"
    );
}

#[tokio::test]
async fn a_huge_line_is_logged_and_events_after_it_still_arrive() {
    let env = Env::new();
    let spec = env.pikaci(
        &format!(
            "head -c {} /dev/zero | tr '\\0' x\necho\necho '{}'\nexit 0",
            3 * MAX_EVENT_LINE,
            started_line()
        ),
        secs(30),
    );
    let mut events = Vec::new();
    let outcome = run_lane(spec, CancellationToken::new(), |ev| events.push(ev)).await;
    assert_eq!(outcome.status, LaneStatus::Passed, "{outcome:?}");
    assert_eq!(outcome.pikaci_run_id.unwrap().as_str(), RUN_ID);
    assert_eq!(events.len(), 1);
    let log_len = std::fs::metadata(env.path("logs/deep/lane.log"))
        .unwrap()
        .len();
    assert!(log_len > 3 * MAX_EVENT_LINE as u64, "{log_len}");
}

#[tokio::test]
async fn pikacis_stderr_reaches_the_lane_log_without_server_paths() {
    let env = Env::new();
    let spec = env.pikaci(
        "echo \"pikaci: cannot read $PWD/pikaci.toml\" >&2\n\
         echo \"state in $PIKACI_STATE_ROOT/runs\" >&2\n\
         printf 'no newline at the end' >&2\n\
         exit 2",
        secs(30),
    );
    let worktree = spec.worktree.clone();
    let state = spec.pikaci_state_root.clone();
    let outcome = run_lane(spec, CancellationToken::new(), |_| {}).await;
    assert_eq!(outcome.status, LaneStatus::Failed, "{outcome:?}");
    let log = env.log();
    assert!(
        log.contains("pikaci: cannot read worktree/pikaci.toml"),
        "{log}"
    );
    assert!(log.contains("state in state root/runs"), "{log}");
    assert!(log.contains("no newline at the end"), "{log}");
    assert!(!log.contains(worktree.as_str()), "{log}");
    assert!(!log.contains(state.as_str()), "{log}");
}

#[tokio::test]
async fn a_lane_ignoring_sigterm_is_killed_at_its_timeout() {
    let env = Env::new();
    let pidfile = env.path("pid");
    let spec = env.spec(
        argv(&format!(
            "trap '' TERM; (trap '' TERM; sleep 60) & echo $! > {pidfile}; sleep 60"
        )),
        Duration::from_millis(500),
    );
    let outcome = run_lane(spec, CancellationToken::new(), |_| {}).await;
    assert_eq!(outcome.status, LaneStatus::Failed);
    assert_eq!(outcome.failure_kind, Some(FailureKind::Timeout));
    assert_eq!(outcome.exit_code, None);
    assert!(
        gone(pid_in(&pidfile).await).await,
        "the grandchild survived"
    );
    assert!(env.log().contains("timed out after 500ms"), "{}", env.log());
}

#[tokio::test]
async fn cancel_stops_the_whole_group() {
    let env = Env::new();
    let pidfile = env.path("pid");
    let spec = env.spec(
        argv(&format!("sleep 60 & echo $! > {pidfile}; wait")),
        secs(60),
    );
    let cancel = CancellationToken::new();
    let lane = tokio::spawn(run_lane(spec, cancel.clone(), |_| {}));
    let grandchild = pid_in(&pidfile).await;
    cancel.cancel();
    let outcome = lane.await.unwrap();
    assert_eq!(outcome.status, LaneStatus::Cancelled);
    assert_eq!(outcome.failure_kind, Some(FailureKind::Cancelled));
    assert!(gone(grandchild).await, "the grandchild survived");
}

#[tokio::test]
async fn a_run_started_naming_a_run_this_pikaci_did_not_make_is_not_recorded() {
    let env = Env::new();
    // Another lane's run, passed, in the same state root: its owner was
    // another pikaci.
    let other = "20260101T000000Z-00000000";
    let mut record = RunRecord::for_test(other);
    record.owner = Some(pikaci_core::RunOwner {
        pid: 1,
        host: pikaci_core::this_host_name(),
        start_ticks: None,
        lock: false,
    });
    let store: pikaci_store::Store = pikaci_store::Store::open(env.path("state"));
    assert!(store.claim_run(&other.parse().unwrap()).unwrap());
    store.persist_run_record(&record).unwrap();
    let fake = started_line().replace(RUN_ID, other);
    // First a lie about another run (as a job writing to pikaci's stdout
    // would), then the real one, then a lie after it.
    let spec = env.pikaci(
        &format!(
            "echo '{fake}'\necho '{}'\necho '{fake}'\nexit 0",
            started_line()
        ),
        secs(30),
    );
    let mut events = Vec::new();
    let outcome = run_lane(spec, CancellationToken::new(), |ev| events.push(ev)).await;
    assert_eq!(outcome.status, LaneStatus::Passed, "{outcome:?}");
    assert_eq!(
        outcome.pikaci_run_id.as_ref().map(RunId::as_str),
        Some(RUN_ID)
    );
    assert_eq!(
        events,
        [LaneEvent::PikaciRunStarted(RUN_ID.parse().unwrap())]
    );
    let text = env.log();
    assert_eq!(
        text.matches(&format!("[pika-news] ignored run_started for {other}"))
            .count(),
        2,
        "{text}"
    );
    assert!(
        text.contains("was not made by this lane's pikaci"),
        "{text}"
    );
    assert!(text.contains("already announced run"), "{text}");
}

#[tokio::test]
async fn a_backgrounded_grandchild_is_gone_after_a_normal_exit() {
    let env = Env::new();
    let pidfile = env.path("pid");
    // It holds pikaci's stdout pipe: the lane must neither wait for it nor leave it.
    let spec = env.pikaci(
        &format!(
            "sleep 60 & echo $! > {pidfile}\necho '{}'\nexit 0",
            started_line()
        ),
        secs(60),
    );
    let outcome = run_lane(spec, CancellationToken::new(), |_| {}).await;
    assert_eq!(outcome.status, LaneStatus::Passed, "{outcome:?}");
    assert_eq!(outcome.exit_code, Some(0));
    assert!(
        gone(pid_in(&pidfile).await).await,
        "the grandchild survived"
    );
}

#[tokio::test]
async fn dropping_a_running_lane_stops_its_group() {
    let env = Env::new();
    let pidfile = env.path("pid");
    let spec = env.spec(
        argv(&format!("sleep 60 & echo $! > {pidfile}; wait")),
        secs(60),
    );
    let lane = tokio::spawn(run_lane(spec, CancellationToken::new(), |_| {}));
    let grandchild = pid_in(&pidfile).await;
    lane.abort();
    assert!(lane.await.unwrap_err().is_cancelled());
    assert!(gone(grandchild).await, "the grandchild survived");
}

#[tokio::test]
async fn a_process_that_escaped_the_group_does_not_hold_the_lane() {
    let env = Env::new();
    let pidfile = env.path("pid");
    let spec = env.pikaci(
        &format!(
            "setsid bash -c 'echo $$ > {pidfile}; exec sleep 30' &\n\
             for i in $(seq 300); do [ -s {pidfile} ] && break; sleep 0.01; done\nexit 0"
        ),
        secs(60),
    );
    let begun = Instant::now();
    let outcome = run_lane(spec, CancellationToken::new(), |_| {}).await;
    let escaped = pid_in(&pidfile).await;
    let _ = nix::sys::signal::kill(Pid::from_raw(escaped), Signal::SIGKILL);
    assert_eq!(outcome.status, LaneStatus::Passed, "{outcome:?}");
    // Not a speed assertion: only that it did not wait for the escaped sleep (30 s).
    assert!(begun.elapsed() < secs(25));
}

#[tokio::test]
async fn argv_output_goes_to_the_log_and_secrets_stay_hidden() {
    let env = Env::new();
    let spec = env.spec(
        argv(
            "echo to-out; echo to-err >&2; echo secret=${SECRET_TOKEN:-hidden} \
             extra=$ALLOWED_EXTRA pikaci=${PIKACI_X:-dropped} \
             incus=$PIKACI_REMOTE_LINUX_VM_INCUS_PROJECT state=${PIKACI_STATE_ROOT:-unset} \
             branch=${PIKACI_GIT_BRANCH:-unset} \
             git=$GIT_CONFIG_GLOBAL,$GIT_CONFIG_NOSYSTEM",
        ),
        secs(30),
    );
    let outcome = run_lane(spec, CancellationToken::new(), |_| {}).await;
    assert_eq!(outcome.status, LaneStatus::Passed);
    assert_eq!(outcome.pikaci_run_id, None);
    let text = env.log();
    assert!(
        text.contains("to-out\n")
            && text.contains("to-err\n")
            && text.contains(
                "secret=hidden extra=yes pikaci=dropped incus=kept state=unset branch=unset git=/dev/null,1\n"
            ),
        "{text}"
    );
    // A second lane run appends to the same log.
    let spec = env.spec(argv("echo again; exit 4"), secs(30));
    let outcome = run_lane(spec, CancellationToken::new(), |_| {}).await;
    assert_eq!(outcome.failure_kind, Some(FailureKind::TestFailure));
    assert_eq!(outcome.exit_code, Some(4));
    let text = env.log();
    assert!(
        text.contains("to-out\n") && text.contains("again\n"),
        "{text}"
    );
}

#[tokio::test]
async fn failures_to_start_are_infrastructure_and_name_no_server_path() {
    let env = Env::new();
    let spec = env.spec(LaneCommand::Argv(vec!["no-such-program-x".into()]), secs(1));
    let outcome = run_lane(spec, CancellationToken::new(), |_| {}).await;
    assert_eq!(outcome.failure_kind, Some(FailureKind::Infrastructure));
    assert!(outcome.message.contains("no-such-program-x"), "{outcome:?}");

    let spec = env.spec(LaneCommand::PikaciTarget("ci".parse().unwrap()), secs(1));
    let outcome = run_lane(spec, CancellationToken::new(), |_| {}).await;
    assert_eq!(outcome.failure_kind, Some(FailureKind::Infrastructure));
    assert!(
        outcome.message.starts_with("could not start pikaci"),
        "{outcome:?}"
    );
    let root = env.dir.path().to_str().unwrap();
    assert!(!outcome.message.contains(root), "{outcome:?}");
    assert!(!env.log().contains(root), "{}", env.log());

    let mut spec = env.spec(argv("true"), secs(1));
    spec.worktree = env.path("missing-wt");
    let outcome = run_lane(spec, CancellationToken::new(), |_| {}).await;
    assert_eq!(outcome.failure_kind, Some(FailureKind::Infrastructure));
    assert!(outcome.message.contains("worktree"), "{outcome:?}");
}

#[tokio::test]
async fn a_fifo_or_a_link_planted_as_the_lane_log_is_replaced_without_blocking() {
    let env = Env::new();
    let spec = env.spec(argv("true"), secs(5));
    std::fs::create_dir_all(spec.log_path.parent().unwrap()).unwrap();
    nix::unistd::mkfifo(
        spec.log_path.as_std_path(),
        nix::sys::stat::Mode::from_bits_truncate(0o666),
    )
    .unwrap();
    let outcome = run_lane(spec.clone(), CancellationToken::new(), |_| {}).await;
    assert_eq!(outcome.status, LaneStatus::Passed, "{outcome:?}");
    assert!(std::fs::symlink_metadata(&spec.log_path).unwrap().is_file());
    std::fs::remove_file(&spec.log_path).unwrap();
    let secret = env.path("secret");
    std::fs::write(&secret, "keep").unwrap();
    std::os::unix::fs::symlink(&secret, &spec.log_path).unwrap();
    run_lane(spec.clone(), CancellationToken::new(), |_| {}).await;
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "keep");
    assert!(
        env.log().contains("[pika-news] running: bash"),
        "{}",
        env.log()
    );
}

#[tokio::test]
async fn a_lane_user_gets_the_lane_path_and_not_a_program_only_the_services_path_has() {
    let env = Env::new();
    let svc_bin = env.path("svc-bin");
    std::fs::create_dir(&svc_bin).unwrap();
    std::fs::write(svc_bin.join("svc-tool-pn"), "#!/bin/sh\necho ran\n").unwrap();
    std::process::Command::new("chmod")
        .args(["0755", svc_bin.join("svc-tool-pn").as_str()])
        .status()
        .unwrap();
    let mut spec = env.spec(LaneCommand::Argv(vec!["svc-tool-pn".into()]), secs(30));
    spec.parent_env
        .insert("PATH".into(), format!("{svc_bin}:/usr/bin:/bin"));
    spec.confinement = Confinement {
        user: Some(crate::sandbox::LaneUser::pooled(3_000_321, 3_000_321)),
        setpriv: Confinement::find_setpriv(Some("/usr/bin:/bin")),
        ..Confinement::default()
    };
    assert_eq!(
        lane_env(&spec).get("PATH").map(String::as_str),
        Some(crate::sandbox::DEFAULT_LANE_PATH)
    );
    let outcome = run_lane(spec, CancellationToken::new(), |_| {}).await;
    assert_eq!(outcome.failure_kind, Some(FailureKind::Infrastructure));
    assert!(
        outcome.message.starts_with("could not start svc-tool-pn"),
        "{outcome:?}"
    );
}

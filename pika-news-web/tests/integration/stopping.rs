//! Stopping a lane stops everything it started: after a lane's timeout or
//! cancel, pikaci gets to stop its job's process group (its grace is shorter
//! than pika-news' grace for the lane), so no process of a job that ignores
//! SIGTERM, prints nothing and has children of its own remains. An argv
//! lane runs under a job supervisor (pika-news itself), so not even a
//! daemon it started with `setsid` outlives it.

use std::time::Duration;

use camino::Utf8Path;
use pika_news_core::db::{LaneAction, LaneStatus};
use pika_news_core::scheduler::LANE_KILL_GRACE;
use pikaci_core::FailureKind;
use pikaci_core::process::supervisor::{JobSupervisor, SUPERVISOR_ARG};
use tokio_util::sync::CancellationToken;

use crate::forge::{Forge, pikaci_bin};
use crate::served::{alive, pids_in};

/// A job that ignores SIGTERM, says nothing, and starts two children that
/// ignore it too; it writes their pids and its own to `pids`.
fn stubborn(pids: &Utf8Path) -> String {
    format!(
        r#"
[[job]]
id = "stubborn"
command = '''
trap "" TERM
for i in 1 2; do (trap "" TERM; exec sleep 600) & echo $! >> {pids}; done
echo $$ >> {pids}
while true; do sleep 1; done
'''

[[target]]
id = "ci"
jobs = ["stubborn"]
"#
    )
}

const LANES: &str = r#"
version = 1

[[branch.lanes]]
id = "ci"
title = "ci"
pikaci_target = "ci"
timeout_secs = 3
"#;

async fn wait_pids(file: &Utf8Path) -> Vec<i32> {
    for _ in 0..600 {
        if let Some(p) = pids_in(file, 3) {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the job never started");
}

fn assert_all_gone(pids: &[i32]) {
    // Killed processes are reaped by init: give it a moment.
    for _ in 0..50 {
        if pids.iter().all(|p| !alive(*p)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let left: Vec<_> = pids.iter().filter(|p| alive(**p)).collect();
    for p in &left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(**p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    panic!("processes of the job survived the lane: {left:?}");
}

#[test]
fn the_lane_grace_is_longer_than_pikacis_job_grace() {
    assert!(LANE_KILL_GRACE >= pikaci_core::contract::JOB_KILL_GRACE + Duration::from_secs(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timed_out_lane_leaves_no_process_of_its_job() {
    let mut f = Forge::new();
    f.repo.pikaci_bin = pikaci_bin();
    let pids = f.root.join("pids");
    f.push(
        "main",
        &[
            ("pikaci.toml", &stubborn(&pids)),
            ("ci/forge-lanes.toml", LANES),
        ],
    );
    let sched = f.scheduler();
    let started = sched.tick(&CancellationToken::new()).await.unwrap();
    assert_eq!(started.len(), 1);
    let job_pids = wait_pids(&pids).await;
    for h in started {
        tokio::time::timeout(Duration::from_secs(60), h)
            .await
            .unwrap()
            .unwrap();
    }
    assert_all_gone(&job_pids);
    let branch = f.db.branch_by_name("main").await.unwrap().unwrap();
    let lane = &f.db.suites(branch.id).await.unwrap()[0].lanes[0];
    assert_eq!(
        (lane.status, lane.failure_kind),
        (LaneStatus::Failed, Some(FailureKind::Timeout)),
        "{lane:?}"
    );
    // pikaci recorded its run's end: it was not killed before it could.
    let run = lane.pikaci_run_id.clone().unwrap();
    let record = pikaci_store::Store::open(f.repo.pikaci_state_root.clone())
        .load_run_record(&run)
        .unwrap();
    assert_ne!(record.status, pikaci_core::RunStatus::Running, "{record:?}");
    assert_eq!(
        record.failure_kind,
        Some(FailureKind::Cancelled),
        "{record:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_lane_leaves_no_process_of_its_job() {
    let mut f = Forge::new();
    f.repo.pikaci_bin = pikaci_bin();
    let pids = f.root.join("pids");
    let lanes = LANES.replace("timeout_secs = 3", "timeout_secs = 600");
    f.push(
        "main",
        &[
            ("pikaci.toml", &stubborn(&pids)),
            ("ci/forge-lanes.toml", &lanes),
        ],
    );
    let sched = f.scheduler();
    let shutdown = CancellationToken::new();
    let started = sched.tick(&shutdown).await.unwrap();
    let job_pids = wait_pids(&pids).await;
    let branch = f.db.branch_by_name("main").await.unwrap().unwrap();
    let lane = f.db.suites(branch.id).await.unwrap()[0].lanes[0].id;
    // Failed by hand: the next tick stops it at once.
    f.db.lane_action(lane, LaneAction::Fail).await.unwrap();
    sched.tick(&shutdown).await.unwrap();
    for h in started {
        tokio::time::timeout(Duration::from_secs(60), h)
            .await
            .unwrap()
            .unwrap();
    }
    assert_all_gone(&job_pids);
}

/// The supervisor `pika-news serve` runs argv lanes under: this package's
/// own binary.
fn news_supervisor() -> JobSupervisor {
    JobSupervisor::new(env!("CARGO_BIN_EXE_pika-news"), [SUPERVISOR_ARG])
}

/// An argv lane (a script of the branch, not pikaci) that ignores SIGTERM,
/// starts a TERM-ignoring child and a daemon that leaves its process group
/// and session (`setsid`), writes the three pids, then runs `tail`.
fn argv_lane(pids: &Utf8Path, tail: &str) -> Vec<(&'static str, String)> {
    // The daemon writes its pid once it is in its own session; the script
    // waits for that before going on.
    let script = format!(
        "trap '' TERM\n(trap '' TERM; exec sleep 600) & echo $! >> {pids}\n\
         setsid sh -c 'echo $$ >> {pids}; exec sleep 600' &\n\
         while [ \"$(wc -l < {pids})\" -lt 2 ]; do sleep 0.05; done\n\
         echo $$ >> {pids}\n{tail}\n"
    );
    let lanes = r#"
version = 1

[[branch.lanes]]
id = "script"
title = "script"
command = ["bash", "ci/stubborn.sh"]
timeout_secs = 3
"#;
    vec![
        ("ci/stubborn.sh", script),
        ("ci/forge-lanes.toml", lanes.to_owned()),
    ]
}

async fn run_argv_lane(tail: &str) -> (Vec<i32>, LaneStatus, Option<FailureKind>) {
    let f = Forge::new();
    let pids = f.root.join("pids");
    let files = argv_lane(&pids, tail);
    let files: Vec<(&str, &str)> = files.iter().map(|(p, t)| (*p, t.as_str())).collect();
    f.push("main", &files);
    let sched = f.scheduler().supervise_lanes(Some(news_supervisor()));
    let started = sched.tick(&CancellationToken::new()).await.unwrap();
    assert_eq!(started.len(), 1);
    let job_pids = wait_pids(&pids).await;
    for h in started {
        tokio::time::timeout(Duration::from_secs(60), h)
            .await
            .unwrap()
            .unwrap();
    }
    let branch = f.db.branch_by_name("main").await.unwrap().unwrap();
    let lane = &f.db.suites(branch.id).await.unwrap()[0].lanes[0];
    (job_pids, lane.status, lane.failure_kind)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timed_out_argv_lane_leaves_no_process_not_even_one_that_called_setsid() {
    let (pids, status, kind) = run_argv_lane("while true; do sleep 1; done").await;
    assert_eq!(
        (status, kind),
        (LaneStatus::Failed, Some(FailureKind::Timeout))
    );
    assert_all_gone(&pids);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_argv_lane_that_passes_leaves_no_daemon_behind() {
    let (pids, status, kind) = run_argv_lane("exit 0").await;
    assert_eq!((status, kind), (LaneStatus::Passed, None));
    assert_all_gone(&pids);
}

/// An argv lane under the job supervisor starts with no signal blocked or
/// ignored (`timeout`, `kill %1` and a TERM trap work in it), and its
/// timeout sends it SIGTERM at once: its trap runs.
#[tokio::test(flavor = "multi_thread")]
async fn an_argv_lane_gets_signals_and_its_timeout_reaches_its_trap() {
    use pikaci_core::signal_probe::{SIGNAL_PROBE, probe_problems};
    let f = Forge::new();
    let lanes = r#"
version = 1

[[branch.lanes]]
id = "probe"
title = "probe"
command = ["bash", "ci/probe.sh"]
timeout_secs = 6
"#;
    f.push(
        "main",
        &[
            ("ci/probe.sh", SIGNAL_PROBE),
            ("ci/forge-lanes.toml", lanes),
        ],
    );
    let sched = f.scheduler().supervise_lanes(Some(news_supervisor()));
    let started = sched.tick(&CancellationToken::new()).await.unwrap();
    assert_eq!(started.len(), 1);
    for h in started {
        tokio::time::timeout(Duration::from_secs(60), h)
            .await
            .unwrap()
            .unwrap();
    }
    let branch = f.db.branch_by_name("main").await.unwrap().unwrap();
    let lane = &f.db.suites(branch.id).await.unwrap()[0].lanes[0];
    assert_eq!(lane.failure_kind, Some(FailureKind::Timeout), "{lane:?}");
    let log = std::fs::read_to_string(f.repo.data_dir.lane_log(lane.id)).unwrap();
    let problems = probe_problems(&log, true);
    assert!(problems.is_empty(), "{problems:?}\n{log}");
}

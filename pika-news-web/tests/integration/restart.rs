//! A real server kill: `pika-news` is SIGKILLed in the middle of a pikaci
//! lane and started again. Its pikaci is told to stop when it dies (it
//! records its run as cancelled and stops its job); the new server sees that
//! the lane's owner on this host is gone and requeues the lane at once (not
//! after the 60 s lease); the lane then passes. No pikaci run is duplicated
//! (the two attempts never overlap) or lost (both runs are there, whole).
//! An argv lane's job supervisor sees its pipe from the server close and
//! stops the lane, a daemon it started with `setsid` included.

use std::time::{Duration, Instant};

use pikaci_core::{FailureKind, RunStatus};
use pikaci_store::Store;

use crate::served::{Site, alive, lane_of, pids_in, wait_for};

const LANES: &str = r#"
version = 1

[[branch.lanes]]
id = "ci"
title = "ci"
pikaci_target = "ci"
"#;

fn slow_job(attempts: &camino::Utf8Path) -> String {
    format!(
        r#"
[[job]]
id = "slow"
command = '''
echo $$ >> {attempts}
echo "attempt started"
sleep 4
echo "attempt finished"
'''

[[target]]
id = "ci"
jobs = ["slow"]
"#
    )
}

#[test]
fn a_sigkilled_server_leaves_no_running_pikaci_and_its_lane_is_requeued_at_once() {
    killed_mid_lane("");
}

#[test]
fn the_same_with_lanes_run_as_their_own_user() {
    crate::served::lane_user();
    killed_mid_lane(&format!(
        "[lanes]\nrun_as_user = \"{}\"\n",
        crate::served::LANE_USER
    ));
}

fn killed_mid_lane(config: &str) {
    let site = Site::new(config);
    let attempts = site.root.join("attempts");
    // Where a job running as the lane user may write.
    std::fs::write(&attempts, "").unwrap();
    std::fs::set_permissions(
        &attempts,
        std::os::unix::fs::PermissionsExt::from_mode(0o666),
    )
    .unwrap();
    let server = site.serve(&[], &[]);
    site.push(
        "main",
        &[
            ("pikaci.toml", &slow_job(&attempts)),
            ("ci/forge-lanes.toml", LANES),
        ],
    );
    let token = site.token.clone();
    let lane = wait_for("the lane's pikaci run", Duration::from_secs(120), || {
        lane_of(&server, &token, "main").filter(|l| l["pikaci_run_id"].is_string())
    });
    let first_run: pikaci_core::RunId = lane["pikaci_run_id"].as_str().unwrap().parse().unwrap();
    let job = wait_for("the job", Duration::from_secs(60), || pids_in(&attempts, 1))[0];
    let store = Store::open(site.state_root.clone());
    let pikaci_pid = store
        .load_run_record(&first_run)
        .unwrap()
        .owner
        .expect("a running run names its owner")
        .pid;

    // SIGKILL: no graceful shutdown, nothing recorded by the server.
    server.signal("KILL");
    let mut server = server;
    assert!(server.wait_exit(Duration::from_secs(5)).is_some());
    // pikaci was told to stop when its server died: it stops its job and records the run.
    wait_for(
        "pikaci and its job to stop",
        Duration::from_secs(20),
        || (!alive(job) && !alive(pikaci_pid as i32)).then_some(()),
    );
    let first = store.load_run_record(&first_run).unwrap();
    assert_eq!(first.status, RunStatus::Failed, "{first:?}");
    assert_eq!(
        first.failure_kind,
        Some(FailureKind::Cancelled),
        "{first:?}"
    );

    // Restart: the lane is taken back at once (its lease had ~60 s left) and passes.
    let restarted = Instant::now();
    let server = site.serve(&[], &[]);
    let lane = wait_for("the requeued lane to pass", Duration::from_secs(40), || {
        lane_of(&server, &token, "main").filter(|l| l["status"] == "passed")
    });
    let took = restarted.elapsed();
    assert!(
        took < Duration::from_secs(30),
        "{took:?}: it waited for the lease"
    );
    eprintln!("the lane passed {took:?} after the restart");
    assert_eq!(lane["attempts"], 2, "{lane}");
    let second_run: pikaci_core::RunId = lane["pikaci_run_id"].as_str().unwrap().parse().unwrap();
    assert_ne!(second_run, first_run);

    // Two runs, one per attempt, that never overlapped; both whole.
    let runs = store.list_runs(None, 100).unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let second = store.load_run_record(&second_run).unwrap();
    assert_eq!(second.status, RunStatus::Passed);
    assert!(
        first.finished_at.unwrap() <= second.created_at,
        "the attempts overlapped"
    );
    assert_eq!(
        pids_in(&attempts, 2).unwrap().len(),
        2,
        "the job ran once per attempt"
    );
    let t = Duration::from_secs(10);
    for (run, text) in [
        (&first_run, "attempt started\n"),
        (&second_run, "attempt finished\n"),
    ] {
        let logs = server
            .get(
                &format!("/news/api/forge/pikaci/logs/{run}?kind=guest"),
                Some(&token),
                t,
            )
            .unwrap()
            .json();
        assert!(
            logs["guest"].as_str().unwrap().contains(text),
            "{run}: {logs}"
        );
    }
    let lane_log = server
        .get(
            &format!("/news/api/forge/lane/{}/log", lane["id"]),
            Some(&token),
            t,
        )
        .unwrap()
        .json();
    let lane_log = lane_log["log"].as_str().unwrap();
    assert!(
        lane_log.contains("the server running this lane died; requeued"),
        "{lane_log}"
    );
    assert_eq!(
        lane_log
            .matches("[pika-news] running: pikaci run ci")
            .count(),
        2,
        "{lane_log}"
    );
    for dir in ["worktrees", "lane-homes"] {
        let left = std::fs::read_dir(site.data.join(dir)).map_or(0, |d| d.count());
        assert_eq!(left, 0, "{dir}");
    }
    // With a lane user, both runs end up the service's: the dead server's
    // too, once the next server took its lane back.
    if !config.is_empty() {
        use std::os::unix::fs::MetadataExt as _;
        for run in [&first_run, &second_run] {
            let dir = site.state_root.join("runs").join(run.as_str());
            assert_eq!(std::fs::symlink_metadata(&dir).unwrap().uid(), 0, "{dir}");
        }
    }
}

/// An argv lane (a branch's script) that ignores SIGTERM and leaves a
/// TERM-ignoring child and a daemon in its own session (`setsid`) behind.
fn stubborn_script(pids: &camino::Utf8Path) -> String {
    format!(
        "trap '' TERM\n(trap '' TERM; exec sleep 600) & echo $! >> {pids}\n\
         setsid sh -c 'trap \"\" TERM; echo $$ >> {pids}; exec sleep 600' &\n\
         while [ \"$(wc -l < {pids})\" -lt 2 ]; do sleep 0.05; done\n\
         echo $$ >> {pids}\nwhile true; do sleep 1; done\n"
    )
}

const ARGV_LANES: &str = r#"
version = 1

[[branch.lanes]]
id = "script"
title = "script"
command = ["bash", "ci/stubborn.sh"]
"#;

#[test]
fn a_sigkilled_server_stops_its_argv_lane_and_the_daemon_it_started() {
    argv_lane_killed_with_server("");
}

#[test]
fn the_same_for_an_argv_lane_run_as_its_own_user() {
    crate::served::lane_user();
    argv_lane_killed_with_server(&format!(
        "[lanes]\nrun_as_user = \"{}\"\n",
        crate::served::LANE_USER
    ));
}

fn argv_lane_killed_with_server(config: &str) {
    let site = Site::new(config);
    let pids = site.root.join("pids");
    std::fs::write(&pids, "").unwrap();
    std::fs::set_permissions(&pids, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let server = site.serve(&[], &[]);
    site.push(
        "main",
        &[
            ("ci/stubborn.sh", &stubborn_script(&pids)),
            ("ci/forge-lanes.toml", ARGV_LANES),
        ],
    );
    let lane_pids = wait_for("the lane's processes", Duration::from_secs(120), || {
        pids_in(&pids, 3)
    });
    server.signal("KILL");
    let mut server = server;
    assert!(server.wait_exit(Duration::from_secs(5)).is_some());
    // The supervisor's pipe from the server closed: SIGTERM (ignored by all
    // three), the lane grace (10 s), then SIGKILL to everything it has.
    let killed = Instant::now();
    wait_for(
        "every process of the lane to stop",
        Duration::from_secs(30),
        || lane_pids.iter().all(|p| !alive(*p)).then_some(()),
    );
    eprintln!(
        "the argv lane's 3 processes were gone {:?} after the server's SIGKILL",
        killed.elapsed()
    );
}

/// An argv lane that stops its job supervisor (`kill -STOP`) after leaving
/// a `setsid` daemon: when its server is SIGKILLed, nothing of the lane can
/// act, so the lane's processes live on in its cgroup until the server
/// starts again, which ends the dead server's lane cgroups once the lane
/// grace has passed (time a lane whose supervisor works takes to stop).
#[test]
fn a_restarted_server_ends_the_lane_cgroup_of_a_stopped_supervisor() {
    let site = Site::new("");
    let pids = site.root.join("pids");
    std::fs::write(&pids, "").unwrap();
    let script = format!(
        "setsid sh -c 'trap \"\" TERM; echo $$ >> {pids}; exec sleep 600' &\n\
         while [ ! -s {pids} ]; do sleep 0.05; done\n\
         echo $$ >> {pids}\ntrap '' TERM\nkill -STOP $PPID\nwhile true; do sleep 1; done\n"
    );
    let server = site.serve(&[], &[]);
    site.push(
        "main",
        &[
            ("ci/stubborn.sh", &script),
            ("ci/forge-lanes.toml", ARGV_LANES),
        ],
    );
    let lane_pids = wait_for("the lane's processes", Duration::from_secs(120), || {
        pids_in(&pids, 2)
    });
    server.signal("KILL");
    let mut server = server;
    assert!(server.wait_exit(Duration::from_secs(5)).is_some());
    assert!(
        lane_pids.iter().all(|p| alive(*p)),
        "the stopped supervisor cannot have stopped the lane"
    );
    let restarted = Instant::now();
    let _server = site.serve(&[], &[]);
    wait_for(
        "every process of the lane to stop",
        Duration::from_secs(40),
        || lane_pids.iter().all(|p| !alive(*p)).then_some(()),
    );
    eprintln!(
        "the dead server's lane was ended {:?} after the restart",
        restarted.elapsed()
    );
}

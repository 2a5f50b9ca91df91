//! Each lane in a cgroup of its own (made by the scheduler, on this
//! machine's real cgroups; root needed): nothing a lane starts survives it,
//! not a `setsid` daemon of a lane that stopped or killed its job
//! supervisor; a fork bomb and a 2 GiB allocation hit the lane's limits, the
//! host keeps working, and the lane fails saying which limit.

use std::time::{Duration, Instant};

use camino::Utf8Path;
use pika_news_core::db::{Lane, LaneStatus};
use pika_news_core::lanes::cgroup::LaneCgroups;
use pika_news_core::scheduler::LANE_KILL_GRACE;
use pikaci_core::FailureKind;
use pikaci_core::cgroup::{CgroupLimits, CgroupRoot};
use pikaci_core::process::supervisor::{JobSupervisor, SUPERVISOR_ARG};
use tokio_util::sync::CancellationToken;

use crate::forge::Forge;
use crate::served::{alive, pids_in};

fn cgroups(limits: CgroupLimits) -> LaneCgroups {
    let root = CgroupRoot::detect().unwrap_or_else(|e| {
        panic!(
            "cgroups are not usable here ({e}): these tests need root and cgroup v2 \
             (run them as root on a machine set up by `bash scripts/test-setup.sh`)"
        )
    });
    LaneCgroups::new(root, limits)
}

/// Runs the argv lane `bash ci/lane.sh` (`script`) with `timeout_secs`
/// under the job supervisor, in a cgroup with `limits`; `during` runs while
/// it does. Returns the lane, its log, and when it was claimed and over.
async fn run_lane(
    f: &Forge,
    script: &str,
    timeout_secs: u64,
    limits: CgroupLimits,
    during: impl FnOnce(),
) -> (Lane, String, Instant, Instant) {
    let lanes = format!(
        "version = 1\n\n[[branch.lanes]]\nid = \"lane\"\ntitle = \"lane\"\n\
         command = [\"bash\", \"ci/lane.sh\"]\ntimeout_secs = {timeout_secs}\n"
    );
    // Each lane first writes down its cgroup, for the test to look it up.
    let script = format!(
        "sed -n 's/^0:://p' /proc/self/cgroup > {}\n{script}",
        f.root.join("cgroup")
    );
    f.push(
        "main",
        &[("ci/lane.sh", &script), ("ci/forge-lanes.toml", &lanes)],
    );
    let supervisor = JobSupervisor::new(env!("CARGO_BIN_EXE_pika-news"), [SUPERVISOR_ARG]);
    let sched = f
        .scheduler()
        .supervise_lanes(Some(supervisor))
        .lane_cgroups(Some(cgroups(limits)));
    let begun = Instant::now();
    let started = sched.tick(&CancellationToken::new()).await.unwrap();
    assert_eq!(started.len(), 1);
    during();
    for h in started {
        tokio::time::timeout(Duration::from_secs(90), h)
            .await
            .unwrap()
            .unwrap();
    }
    let ended = Instant::now();
    let branch = f.db.branch_by_name("main").await.unwrap().unwrap();
    let lane = f.db.suites(branch.id).await.unwrap()[0].lanes[0].clone();
    let log = std::fs::read_to_string(f.repo.data_dir.lane_log(lane.id)).unwrap_or_default();
    (lane, log, begun, ended)
}

/// Each pid, gone (or a zombie) now: the lane's end already waited for its
/// cgroup to empty.
fn assert_gone_now(pids: &[i32], log: &str) {
    let left: Vec<_> = pids.iter().copied().filter(|p| alive(*p)).collect();
    for p in &left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(
        left.is_empty(),
        "processes of the lane survived it: {left:?}\n{log}"
    );
}

/// Whether the lane's cgroup (the one its script wrote down) is gone.
fn assert_cgroup_removed(f: &Forge) {
    let path = std::fs::read_to_string(f.root.join("cgroup")).expect("the lane wrote its cgroup");
    let name = path.trim().rsplit('/').next().unwrap().to_owned();
    assert!(
        name.starts_with("pika-news-lane-"),
        "the lane ran in {path}"
    );
    let root = CgroupRoot::detect().unwrap();
    assert!(!root.dir().join(&name).exists(), "{name} was left behind");
}

/// A lane that starts a `setsid` daemon ignoring SIGTERM, then does
/// `to_supervisor` to its supervisor (its parent) and ignores SIGTERM.
fn escaping(pids: &Utf8Path, to_supervisor: &str) -> String {
    format!(
        "setsid bash -c 'trap \"\" TERM; echo $$ >> {pids}; exec sleep 600' &\n\
         while [ ! -s {pids} ]; do sleep 0.05; done\n\
         echo $$ >> {pids}\n\
         trap '' TERM\n\
         kill -{to_supervisor} $PPID\n\
         while true; do sleep 1; done\n"
    )
}

/// The two pids the lane wrote.
fn lane_pids(file: &Utf8Path, log: &str) -> Vec<i32> {
    pids_in(file, 2).unwrap_or_else(|| panic!("the lane did not write its pids\n{log}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lane_that_stops_its_supervisor_leaves_nothing_after_its_timeout() {
    let f = Forge::new();
    let pids = f.root.join("pids");
    // When the lane's script runs (its timeout started just before).
    let running = std::cell::Cell::new(None);
    let during = || {
        for _ in 0..1200 {
            if pids_in(&pids, 2).is_some() {
                running.set(Some(Instant::now()));
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let (lane, log, _, ended) = run_lane(
        &f,
        &escaping(&pids, "STOP"),
        3,
        CgroupLimits::default(),
        during,
    )
    .await;
    let pids = lane_pids(&pids, &log);
    assert_gone_now(&pids, &log);
    assert_eq!(
        (lane.status, lane.failure_kind),
        (LaneStatus::Failed, Some(FailureKind::Timeout)),
        "{log}"
    );
    let message = lane.message.unwrap_or_default();
    assert!(message.contains("left in the lane's cgroup"), "{message}");
    assert_cgroup_removed(&f);
    // Nothing outlived the timeout by more than the grace (and the time to
    // record the lane): no wait for the stopped supervisor's margin.
    let after_start = ended - running.get().expect("the lane ran");
    let bound = Duration::from_secs(3) + LANE_KILL_GRACE + Duration::from_secs(1);
    assert!(after_start < bound, "{after_start:?} (bound {bound:?})");
    eprintln!(
        "stopped supervisor: the lane was over {after_start:?} after it started (timeout 3 s, grace 10 s)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lane_that_kills_its_supervisor_leaves_nothing() {
    let f = Forge::new();
    let pids = f.root.join("pids");
    let (lane, log, begun, ended) = run_lane(
        &f,
        &escaping(&pids, "KILL"),
        30,
        CgroupLimits::default(),
        || {},
    )
    .await;
    let took = ended - begun;
    let pids = lane_pids(&pids, &log);
    assert_gone_now(&pids, &log);
    assert_eq!(lane.status, LaneStatus::Failed, "{log}");
    let message = lane.message.unwrap_or_default();
    assert!(
        message.starts_with("the lane was killed by a signal; stopped")
            && message.contains("left in the lane's cgroup"),
        "{message}"
    );
    assert_cgroup_removed(&f);
    eprintln!("killed supervisor: the lane took {took:?}");
}

/// Refuses to go on unless the lane's process limit is in place: a fork bomb
/// without it would take the machine.
const REQUIRE_PIDS_MAX: &str = r#"
v1=$(sed -n 's/^[0-9]*:pids:\(.*\)/\1/p' /proc/self/cgroup)
v2=$(sed -n 's/^0:://p' /proc/self/cgroup)
max=$(cat "/sys/fs/cgroup/pids$v1/pids.max" 2>/dev/null || cat "/sys/fs/cgroup$v2/pids.max" 2>/dev/null)
[ "$max" = 200 ] || { echo "no process limit of 200 here ($max): not starting the fork bomb"; exit 99; }
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_fork_bomb_hits_the_process_limit_and_the_host_keeps_working() {
    let f = Forge::new();
    let script =
        format!("{REQUIRE_PIDS_MAX}echo bomb\nbomb() {{ bomb | bomb & }}; bomb\nsleep 60\n");
    let limits = CgroupLimits {
        pids_max: Some(200),
        ..CgroupLimits::default()
    };
    let marker = f.root.join("forked");
    let during = || {
        // While the bomb runs, this process can still start programs.
        std::thread::sleep(Duration::from_secs(2));
        let ok = std::process::Command::new("touch")
            .arg(&marker)
            .status()
            .unwrap();
        assert!(ok.success());
    };
    let (lane, log, begun, ended) = run_lane(&f, &script, 4, limits, during).await;
    let took = ended - begun;
    assert!(marker.exists());
    assert!(log.contains("bomb\n"), "{log}");
    assert_eq!(lane.status, LaneStatus::Failed, "{log}");
    let message = lane.message.unwrap_or_default();
    assert!(
        message.contains("the lane reached its process limit (pids_max 200)"),
        "{message}"
    );
    assert_cgroup_removed(&f);
    eprintln!("fork bomb: the lane took {took:?} (timeout 4 s)");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_two_gib_allocation_is_oom_killed_and_the_lane_says_memory_limit() {
    let f = Forge::new();
    // dd reads into a buffer of bs bytes: 2 GiB it cannot have.
    let script = "dd if=/dev/zero of=/dev/null bs=2G count=1 status=none; echo \"dd-exit=$?\"\n";
    let limits = CgroupLimits {
        memory_max: Some(64 << 20),
        ..CgroupLimits::default()
    };
    let (lane, log, _, _) = run_lane(&f, script, 60, limits, || {}).await;
    assert!(log.contains("dd-exit=137"), "{log}");
    assert_eq!(
        (lane.status, lane.failure_kind),
        (LaneStatus::Failed, Some(FailureKind::TestFailure)),
        "{log}"
    );
    let message = lane.message.unwrap_or_default();
    assert!(
        message.contains(
            "the lane reached its memory limit (memory_max 67108864 bytes): the kernel killed 1"
        ),
        "{message}"
    );
    assert_cgroup_removed(&f);
}

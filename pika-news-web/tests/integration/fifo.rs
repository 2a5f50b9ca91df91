//! A job that keeps swapping FIFOs in for its `run.json`, its logs and its
//! lane's log cannot freeze the server: `/health` and every read route keep
//! answering within a bound for the whole time, and SIGTERM stops it.
//!
//! The real binary, a real lane and a real pikaci job. The swapping lasts
//! `PIKA_NEWS_FIFO_TEST_SECS` seconds (60 by default).

use std::os::unix::fs::FileTypeExt as _;
use std::time::{Duration, Instant};

use crate::served::{Site, lane_of, wait_for};

const LANES: &str = r#"
version = 1

[[branch.lanes]]
id = "ci"
title = "ci"
pikaci_target = "ci"
"#;

/// The job: for `secs` seconds, swap FIFOs in for the files the server reads.
fn swapper(secs: u64, lane_log: &str) -> String {
    format!(
        r#"
[[job]]
id = "swap"
description = "swaps FIFOs in for what the server reads"
timeout_secs = 3600
command = '''
run_dir="$(dirname "$PIKACI_WORKSPACE")"
cd "$run_dir"
files="run.json jobs/swap/guest.log jobs/swap/host.log {lane_log}"
echo "swapping for {secs} s"
end=$((SECONDS + {secs}))
n=0
while [ $SECONDS -lt $end ]; do
  for f in $files; do mv -f "$f" "$f.real" 2>/dev/null; mkfifo "$f" 2>/dev/null; done
  sleep 0.3
  for f in $files; do rm -f "$f"; mv -f "$f.real" "$f" 2>/dev/null; done
  sleep 0.02
  n=$((n + 1))
done
echo "swapped $n times"
'''

[[target]]
id = "ci"
jobs = ["swap"]
"#
    )
}

fn is_fifo(path: &camino::Utf8Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

#[test]
fn a_job_swapping_fifos_in_never_freezes_the_server_and_sigterm_stops_it() {
    let secs: u64 = std::env::var("PIKA_NEWS_FIFO_TEST_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let site = Site::new("");
    let mut server = site.serve(&[], &[]);
    let lane_log = site.data.join("lane-logs/1.log");
    // The job swaps for longer than the test reads, so SIGTERM finds it swapping.
    site.push(
        "main",
        &[
            ("pikaci.toml", &swapper(secs + 120, lane_log.as_str())),
            ("ci/forge-lanes.toml", LANES),
        ],
    );
    let token = site.token.clone();
    let lane = wait_for("the lane's pikaci run", Duration::from_secs(120), || {
        lane_of(&server, &token, "main").filter(|l| l["pikaci_run_id"].is_string())
    });
    let run = lane["pikaci_run_id"].as_str().unwrap().to_owned();
    let run_json = site.state_root.join("runs").join(&run).join("run.json");
    wait_for(
        "a FIFO in place of run.json",
        Duration::from_secs(60),
        || is_fifo(&run_json).then_some(()),
    );
    let routes = [
        "/health".to_owned(),
        format!("/news/api/forge/pikaci/run/{run}"),
        format!("/news/api/forge/pikaci/logs/{run}"),
        format!("/news/api/forge/pikaci/logs/{run}?kind=guest&tail=4096"),
        format!("/news/api/forge/lane/{}/log", lane["id"]),
        "/news/api/forge/branch/1/logs".to_owned(),
        "/news/branch/1/ci".to_owned(),
    ];
    let bound = Duration::from_secs(3);
    let (mut answers, mut fifo_seen, mut slowest) = (0u32, 0u32, Duration::ZERO);
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        for route in &routes {
            let t = Instant::now();
            let a = server
                .get(route, Some(&token), bound)
                .unwrap_or_else(|e| panic!("{route} did not answer within {bound:?}: {e}"));
            slowest = slowest.max(t.elapsed());
            // 404 while a file is between swaps, 500 while a FIFO is in its place.
            assert!(matches!(a.status, 200 | 404 | 500), "{route}: {a:?}");
            if route == "/health" {
                assert_eq!(a.status, 200);
            }
            answers += 1;
        }
        fifo_seen += u32::from(is_fifo(&run_json));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(fifo_seen > 0, "the job never had a FIFO in place");
    eprintln!(
        "{answers} answers in {secs} s while FIFOs were swapped in (seen {fifo_seen} times); slowest {slowest:?}"
    );
    // Still swapping: SIGTERM stops the server (and its lane) within a bound.
    let stopping = Instant::now();
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(40))
        .unwrap_or_else(|| panic!("SIGTERM did not stop the server: {}", server.log()));
    assert!(status.success(), "{status:?}: {}", server.log());
    eprintln!("stopped {:?} after SIGTERM", stopping.elapsed());
}

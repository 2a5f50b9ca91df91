//! A lane that prints half a gigabyte: it is streamed to the lane log and the
//! server's memory does not grow with it.

use std::collections::BTreeMap;
use std::time::Duration;

use camino::Utf8PathBuf;
use pika_news_core::db::LaneStatus;
use pika_news_core::lanes::manifest::LaneCommand;
use pika_news_core::lanes::runner::{LaneEvent, LaneRunSpec, run_lane};
use tokio_util::sync::CancellationToken;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_lane_printing_half_a_gigabyte_is_streamed_not_buffered() {
    const BYTES: u64 = 512 * 1024 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let root = Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();
    let fake = root.join("pikaci");
    // run_started, then 512 MiB on one line (the worst case for a line parser).
    std::fs::write(
        &fake,
        format!(
            "#!/bin/bash\n{}echo '{{\"event\":\"run_started\",\"run_id\":\"20260324T161238Z-1a2b3c4d\",\"created_at\":\"2026-03-24T16:12:38Z\"}}'\n\
             head -c {BYTES} /dev/zero | tr '\\0' x\necho\n",
            crate::support::own_run_record_script("20260324T161238Z-1a2b3c4d")
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x", fake.as_str()])
        .status()
        .unwrap();
    let log = root.join("lane.log");
    let spec = LaneRunSpec {
        command: LaneCommand::PikaciTarget("ci".parse().unwrap()),
        worktree: root.clone(),
        pikaci_bin: fake,
        pikaci_state_root: root.join("state"),
        branch: None,
        env_allow: vec![],
        parent_env: BTreeMap::from([("PATH".to_owned(), std::env::var("PATH").unwrap())]),
        timeout: Duration::from_secs(120),
        kill_grace: Duration::from_secs(1),
        log_path: log.clone(),
        confinement: Default::default(),
        events_path: None,
        cgroup: None,
        home: None,
    };
    let before = peak_rss_kib();
    let mut started = false;
    let outcome = run_lane(spec, CancellationToken::new(), |ev| {
        started |= matches!(ev, LaneEvent::PikaciRunStarted(_))
    })
    .await;
    let grew_mib = (peak_rss_kib().saturating_sub(before)) / 1024;
    assert_eq!(outcome.status, LaneStatus::Passed, "{outcome:?}");
    assert!(started, "run_started was seen before the flood");
    let size = std::fs::metadata(&log).unwrap().len();
    assert!(size > BYTES, "the whole output reached the log: {size}");
    // Buffering the output would need 512 MiB; streaming needs a few.
    assert!(grew_mib < 128, "peak memory grew by {grew_mib} MiB");
    println!(
        "gigabyte lane: {} MiB streamed to the log; peak memory grew {grew_mib} MiB",
        size >> 20
    );
}

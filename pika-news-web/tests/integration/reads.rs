//! The server reads the state root at bounded cost and never through a link
//! a lane planted, checked on the real binary: its memory from
//! `/proc/<pid>/status`, its answers over real sockets.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pikaci_core::{LogFile, RunRecord, RunStatus};
use pikaci_store::Store;

use crate::served::{Server, Site};

const RUN: &str = "20260324T161238Z-1a2b3c4d";

/// A field of `/proc/<pid>/status` in KiB (`VmHWM`, `VmRSS`).
pub(crate) fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} for pid {pid}"))
}

/// A running run (no owner, so nobody can find it dead) with one line in
/// its job's guest log, written in the server's state root.
fn running_run(site: &Site) -> (Store, RunRecord) {
    let store = Store::open(site.state_root.clone());
    let mut r = RunRecord::for_test(RUN);
    r.status = RunStatus::Running;
    r.finished_at = None;
    r.owner = None;
    r.jobs[0].status = RunStatus::Running;
    r.jobs[0].finished_at = None;
    store.persist_run_record(&r).unwrap();
    store
        .open_job_log(&r.run_id, &r.jobs[0].id, LogFile::Guest)
        .unwrap()
        .write_all(b"hello\n")
        .unwrap();
    (store, r)
}

/// Opens a stream of the run's guest log; the thread reading it says on
/// `started` when the first `log` event came, and returns every `event:`
/// and `data:` line it read until the stream closed or `within` passed.
fn open_stream(
    server: &Server,
    token: &str,
    started: mpsc::Sender<()>,
    within: Duration,
) -> std::thread::JoinHandle<Vec<String>> {
    let mut s = TcpStream::connect(&server.addr).unwrap();
    write!(
        s,
        "GET /news/api/forge/pikaci/logs/{RUN}/stream?kind=guest HTTP/1.1\r\nHost: t\r\n\
         Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    std::thread::spawn(move || {
        let end = Instant::now() + within;
        let mut lines = Vec::new();
        let mut reader = BufReader::new(s);
        let mut started = Some(started);
        while Instant::now() < end {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    continue;
                }
                Err(_) => break,
            }
            if line.starts_with("event: log") {
                if let Some(tx) = started.take() {
                    let _ = tx.send(());
                }
            }
            if line.starts_with("event: ") || line.starts_with("data: ") {
                lines.push(line.trim_end().to_owned());
            }
        }
        lines
    })
}

/// 32 streams follow a running job whose `run.json` then grows to 60 MB
/// (a lane can write anything there). Each stream looks at the record only
/// when it changed, and refuses one over the server's 4 MiB bound unread,
/// saying so in an `error` event. Before, each re-parsed it every 25 ms
/// under the store's 64 MiB cap: gigabytes and both cores.
#[test]
fn thirty_two_streams_on_a_record_grown_to_60_mb_stay_small_and_say_why_they_end() {
    let site = Site::new("");
    let server = site.serve(&[], &[]);
    let (store, mut record) = running_run(&site);
    let (tx, started) = mpsc::channel();
    let streams: Vec<_> = (0..32)
        .map(|_| open_stream(&server, &site.token, tx.clone(), Duration::from_secs(40)))
        .collect();
    for _ in 0..32 {
        started
            .recv_timeout(Duration::from_secs(20))
            .expect("every stream started");
    }
    let before_kib = status_kib(server.pid, "VmHWM");
    record.message = Some("x".repeat(60_000_000));
    store.persist_run_record(&record).unwrap();
    drop(record);
    let seen: Vec<Vec<String>> = streams.into_iter().map(|s| s.join().unwrap()).collect();
    let peak_mib = status_kib(server.pid, "VmHWM") / 1024;
    println!(
        "32 streams on a 60 MB record: peak RSS {peak_mib} MiB (before the record grew: {} MiB)",
        before_kib / 1024
    );
    for lines in seen {
        let error = lines
            .iter()
            .position(|l| l == "event: error")
            .unwrap_or_else(|| panic!("no error event: {lines:?}"));
        let data = &lines[error + 1];
        assert!(
            data.contains("run.json") && data.contains("larger than the 4194304 bytes accepted"),
            "{data}"
        );
    }
    assert!(peak_mib < 150, "the server's peak RSS was {peak_mib} MiB");
}

/// A lane that owns the state root replaces `runs` with a link to another
/// instance's runs, one with a log only root may read. The server (root
/// here) refuses every read through it, saying a link is in the way,
/// instead of serving that log.
#[test]
fn a_runs_link_planted_in_the_state_root_is_never_followed() {
    use std::os::unix::fs::PermissionsExt as _;
    let site = Site::new("");
    let elsewhere = site.root.join("another-instance");
    let other = Store::open(elsewhere.clone());
    let record = RunRecord::for_test(RUN);
    other.persist_run_record(&record).unwrap();
    other
        .open_job_log(&record.run_id, &record.jobs[0].id, LogFile::Guest)
        .unwrap()
        .write_all(b"root-only secret\n")
        .unwrap();
    let log = other
        .root()
        .job_log(&record.run_id, &record.jobs[0].id, LogFile::Guest);
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::create_dir_all(&site.state_root).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("runs"), site.state_root.join("runs")).unwrap();
    let server = site.serve(&[], &[]);
    for path in [
        format!("/news/api/forge/pikaci/run/{RUN}"),
        format!("/news/api/forge/pikaci/logs/{RUN}?kind=guest"),
        format!("/news/api/forge/pikaci/logs/{RUN}/raw?kind=guest"),
        format!("/news/api/forge/pikaci/logs/{RUN}/stream?kind=guest"),
    ] {
        let answer = server
            .get(&path, Some(&site.token), Duration::from_secs(10))
            .unwrap();
        let body = String::from_utf8_lossy(&answer.body);
        assert_eq!(answer.status, 500, "{path}: {body}");
        assert!(body.contains("symbolic link"), "{path}: {body}");
        assert!(!body.contains("secret"), "{path}: {body}");
        assert!(!body.contains(site.root.as_str()), "{path}: {body}");
    }
}

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
            if line.starts_with("event: log")
                && let Some(tx) = started.take()
            {
                let _ = tx.send(());
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

/// CPU time (user + system) of `pid` so far, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name (which may hold spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// A branch `feature/x` whose lane `pre-merge` ran `RUN`, in the site's
/// database (before the server starts); its page's path.
async fn lane_page(site: &Site) -> String {
    use pika_news_core::db::{Db, NewLane, SuiteStatus};
    let db = Db::open(&site.db).unwrap();
    let head = "a".repeat(40);
    let branch = db.upsert_branch("feature/x", &head).await.unwrap();
    let suite = db
        .insert_suite(branch, &head, SuiteStatus::Running, None)
        .await
        .unwrap();
    let lane = db
        .insert_lane(NewLane {
            suite_id: suite,
            lane: "pre-merge".into(),
            title: "pre-merge checks".into(),
            concurrency_group: None,
            command: None,
            timeout_secs: None,
        })
        .await
        .unwrap();
    db.set_lane_pikaci_run(lane, RUN).await.unwrap();
    format!("/news/branch/{branch}/ci/lane/{lane}?job=build")
}

/// A job makes its log a 1 TiB sparse file (`truncate -s 1T`) with a few
/// lines at its end. The lane page numbers the lines it shows by counting
/// those before them: holes are skipped (no newline in a hole), so the page
/// answers at once with the real numbers, and the server is idle after.
/// Before, it read a TiB of zeros: about an hour of a core, going on after
/// the client had left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_tib_sparse_log_is_numbered_at_once_and_costs_no_cpu_after() {
    let site = Site::new("");
    let (store, record) = running_run(&site);
    let log = store
        .root()
        .job_log(&record.run_id, &record.jobs[0].id, LogFile::Guest);
    let file = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
    file.set_len(1 << 40).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, b"one\ntwo\nlast line\n", (1 << 40) - 18)
        .unwrap();
    drop(file);
    let page = lane_page(&site).await;
    let server = tokio::task::spawn_blocking({
        let site_token = site.token.clone();
        let server = site.serve(&[], &[]);
        move || {
            let started = Instant::now();
            let answer = server
                .get(&page, Some(&site_token), Duration::from_secs(5))
                .expect("the page answers");
            (server, answer, started.elapsed())
        }
    });
    let (server, answer, took) = server.await.unwrap();
    let body = String::from_utf8_lossy(&answer.body);
    assert_eq!(answer.status, 200, "{body}");
    // A line's number is its newlines before it plus one: 1 (the first
    // line is the 1 TiB hole and "one"), 2, 3.
    assert!(
        body.contains("id=\"L3\"") && body.contains("last line"),
        "{body}"
    );
    let ticks = cpu_ticks(server.pid);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spent = cpu_ticks(server.pid) - ticks;
    println!(
        "1 TiB sparse log: page in {took:?}; the server's CPU in the 2 s after: {spent} ticks"
    );
    assert!(took < Duration::from_secs(1), "the page took {took:?}");
    assert!(
        spent < 50,
        "the server spent {spent} ticks of CPU after answering"
    );
    drop(server);
    std::fs::remove_file(&log).unwrap();
}

/// A thousand clients ask for a 16 MiB log through the raw route and read
/// nothing past the answer's head. Each download takes its pieces from one
/// byte budget shared by all (64 MiB), so the server holds that much at
/// most, not a thousand times two pieces of 512 KiB. Before: about 1.8 GB.
#[test]
fn a_thousand_idle_raw_downloads_stay_within_the_download_budget() {
    let site = Site::new("");
    let (store, record) = running_run(&site);
    let log = store
        .root()
        .job_log(&record.run_id, &record.jobs[0].id, LogFile::Guest);
    // The bytes do not matter: a sparse file reads as zeros.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let server = site.serve(&[], &[]);
    let path = format!("/news/api/forge/pikaci/logs/{RUN}/raw?kind=guest");
    let mut idle = Vec::new();
    for i in 0..1000 {
        let mut s = TcpStream::connect(&server.addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\n\r\n",
            site.token
        )
        .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        // The head only, so each download has started.
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match std::io::Read::read(&mut s, &mut byte) {
                Ok(1) => head.push(byte[0]),
                Ok(_) => panic!("download {i} closed: {}", String::from_utf8_lossy(&head)),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => panic!("download {i}: {e}"),
            }
        }
        assert!(
            head.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        idle.push(s);
    }
    // Let every download read what it may and block on its client.
    let mut last = 0;
    let settled = Instant::now() + Duration::from_secs(30);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = status_kib(server.pid, "VmRSS");
        if now.abs_diff(last) < 1024 || Instant::now() > settled {
            break;
        }
        last = now;
    }
    let peak_mib = status_kib(server.pid, "VmHWM") / 1024;
    let rss_mib = status_kib(server.pid, "VmRSS") / 1024;
    println!(
        "1,000 idle raw downloads of a 16 MiB log: peak RSS {peak_mib} MiB, now {rss_mib} MiB"
    );
    assert!(peak_mib < 200, "the server's peak RSS was {peak_mib} MiB");
    drop(idle);
}

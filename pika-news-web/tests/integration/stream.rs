//! The live log stream: Server-Sent Events from an offset or `Last-Event-ID`,
//! text on character boundaries, status changes, the end, heartbeats, slow
//! clients dropped and resumed, one follower per log; on tokio's paused
//! clock, plus one real socket with a really growing log.

use std::io::Write;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use pika_news_web::LiveSettings as Settings;
use pika_news_web::{AppState, router};
use pikaci_core::{LogFile, RunRecord, RunStatus};
use tower::ServiceExt;

use crate::support::{RUN, TestApp};

const GUEST: &str = "line 1\nline 2\n\x1b[31merror\x1b[0m: boom\n";

/// One event (or comment) of a stream.
#[derive(Debug, Clone, PartialEq, Default)]
struct Event {
    name: String,
    id: Option<u64>,
    data: String,
    comment: bool,
}

impl Event {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }
    /// The text of a `log` event.
    fn text(&self) -> String {
        assert_eq!(self.name, "log", "{self:?}");
        self.json().as_str().unwrap().to_owned()
    }
}

fn parse(frame: &str) -> Event {
    let mut e = Event::default();
    for line in frame.lines() {
        if let Some(rest) = line.strip_prefix(':') {
            e.comment = true;
            e.data = rest.trim().to_owned();
        } else if let Some(v) = line.strip_prefix("event: ") {
            e.name = v.to_owned();
        } else if let Some(v) = line.strip_prefix("id: ") {
            e.id = Some(v.parse().unwrap());
        } else if let Some(v) = line.strip_prefix("data: ") {
            e.data = v.to_owned();
        }
    }
    e
}

/// A stream being read, event by event.
struct Events {
    body: Body,
    buf: String,
}

impl Events {
    /// The next event, or `None` when the stream has ended.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(at) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..at + 2).collect();
                return Some(parse(&frame));
            }
            let frame = self.body.frame().await?.unwrap();
            let data = frame.into_data().unwrap();
            self.buf.push_str(std::str::from_utf8(&data).unwrap());
        }
    }

    async fn expect(&mut self) -> Event {
        self.next().await.expect("the stream ended early")
    }

    /// The next `log` event (heartbeats and status changes are skipped, but
    /// not forever: on the paused clock a stream that never sends the text
    /// would otherwise beat for ever).
    async fn next_log(&mut self) -> Event {
        for _ in 0..100 {
            let e = self.expect().await;
            if e.name == "log" {
                return e;
            }
        }
        panic!("no log event among 100 events");
    }

    /// Every remaining event, until the stream ends.
    async fn rest(&mut self) -> Vec<Event> {
        let mut all = Vec::new();
        while let Some(e) = self.next().await {
            all.push(e);
        }
        all
    }
}

fn uri(query: &str) -> String {
    format!("/news/api/forge/pikaci/logs/{RUN}/stream{query}")
}

async fn open(app: &Router, token: &str, query: &str, headers: &[(&str, &str)]) -> Events {
    let mut req = Request::builder()
        .uri(uri(query))
        .header("authorization", format!("Bearer {token}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-cache");
    Events {
        body: resp.into_body(),
        buf: String::new(),
    }
}

fn record(app: &TestApp) -> RunRecord {
    app.store
        .run(&RUN.parse().unwrap())
        .unwrap()
        .record()
        .unwrap()
}

/// Makes the run and its job `running` (no owner: nobody can find it dead).
fn set_running(app: &TestApp) {
    let mut r = record(app);
    r.status = RunStatus::Running;
    r.finished_at = None;
    r.owner = None;
    r.jobs[0].status = RunStatus::Running;
    r.jobs[0].finished_at = None;
    app.store.persist_run_record(&r).unwrap();
}

fn set_finished(app: &TestApp, status: RunStatus) {
    let mut r = record(app);
    r.status = status;
    r.jobs[0].status = status;
    app.store.persist_run_record(&r).unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_finished_job_streams_its_log_then_ends() {
    let app = TestApp::new();
    let router = app.app();
    let mut events = open(&router, &app.read, "", &[]).await;
    let status = events.expect().await;
    assert_eq!(status.name, "status");
    assert_eq!(
        status.json(),
        serde_json::json!({"job": "build", "status": "passed", "failure_kind": null, "run_status": "failed"})
    );
    let log = events.expect().await;
    assert_eq!(log.text(), GUEST);
    assert_eq!(log.id, Some(GUEST.len() as u64));
    let end = events.expect().await;
    assert_eq!(end.name, "end");
    assert_eq!(end.json()["offset"], GUEST.len());
    assert_eq!(end.json()["status"], "passed");
    assert_eq!(events.next().await, None, "the stream closes after end");
}

#[tokio::test(start_paused = true)]
async fn offset_and_last_event_id_choose_the_start_and_last_event_id_wins() {
    let app = TestApp::new();
    let router = app.app();
    let texts = |events: Vec<Event>| -> String {
        events
            .iter()
            .filter(|e| e.name == "log")
            .map(Event::text)
            .collect()
    };
    let mut e = open(&router, &app.read, "?kind=guest&offset=7", &[]).await;
    assert_eq!(texts(e.rest().await), &GUEST[7..]);
    let mut e = open(&router, &app.read, "?offset=7", &[("last-event-id", "14")]).await;
    assert_eq!(texts(e.rest().await), &GUEST[14..]);
    let mut e = open(&router, &app.read, "?kind=host&job=build", &[]).await;
    assert_eq!(texts(e.rest().await), "[pikaci] ran cargo test\n");
    // Past the end of the log: one `error` event saying so (as a 416 would).
    for (query, header) in [("?offset=99999", None), ("", Some("99999"))] {
        let headers: Vec<(&str, &str)> = header.map(|h| ("last-event-id", h)).into_iter().collect();
        let mut e = open(&router, &app.read, query, &headers).await;
        let rest = e.rest().await;
        assert_eq!(rest.len(), 1, "{rest:?}");
        assert_eq!(rest[0].name, "error");
        let message = rest[0].json()["error"].as_str().unwrap().to_owned();
        assert!(
            message.contains("416") && message.contains("offset 99999 is past the end"),
            "{message}"
        );
        assert!(
            message.contains(&format!("({} bytes)", GUEST.len())),
            "{message}"
        );
    }
}

/// The guest log of `RUN`'s job on disk (a test plays the job writing it).
fn guest_path(app: &TestApp) -> std::path::PathBuf {
    app.store
        .root()
        .job_log(
            &RUN.parse().unwrap(),
            &"build".parse().unwrap(),
            LogFile::Guest,
        )
        .into_std_path_buf()
}

/// Every event until the stream ends, which must be within an hour of the
/// paused clock (heartbeats every 15 s; a stream that never ends fails here).
async fn until_closed(events: &mut Events) -> Vec<Event> {
    tokio::time::timeout(Duration::from_secs(3600), events.rest())
        .await
        .expect("the stream went on instead of ending")
}

#[tokio::test(start_paused = true)]
async fn a_log_truncated_or_replaced_under_a_stream_ends_it_with_an_error() {
    for how in ["truncated", "replaced"] {
        let app = TestApp::new();
        set_running(&app);
        let router = app.app();
        let mut events = open(&router, &app.read, "", &[]).await;
        assert_eq!(events.expect().await.name, "status");
        assert_eq!(events.expect().await.text(), GUEST);
        let path = guest_path(&app);
        if how == "truncated" {
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(3)
                .unwrap();
        } else {
            let new = path.with_extension("new");
            std::fs::write(&new, "another log\n").unwrap();
            std::fs::rename(&new, &path).unwrap();
        }
        let rest = until_closed(&mut events).await;
        let error = rest
            .iter()
            .find(|e| e.name == "error")
            .unwrap_or_else(|| panic!("{how}: no error event in {rest:?}"));
        let message = error.json()["error"].as_str().unwrap().to_owned();
        assert!(
            message.contains(how) && message.contains("jobs/build/guest.log"),
            "{message}"
        );
        assert!(
            !message.contains(app.store.root().path().as_str()),
            "{message}"
        );
        assert!(rest.iter().all(|e| e.name != "end"), "{rest:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_record_grown_past_the_served_bound_ends_its_stream_with_an_error() {
    let app = TestApp::new();
    set_running(&app);
    let router = app.app();
    let mut events = open(&router, &app.read, "", &[]).await;
    events.expect().await;
    events.expect().await;
    let mut r = record(&app);
    r.message = Some("x".repeat(5 << 20));
    app.store.persist_run_record(&r).unwrap();
    let rest = until_closed(&mut events).await;
    let error = rest
        .iter()
        .find(|e| e.name == "error")
        .expect("an error event");
    let message = error.json()["error"].as_str().unwrap().to_owned();
    assert!(
        message.contains("run.json") && message.contains("larger than the 4194304 bytes accepted"),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stream_on_a_dead_owners_run_ends_interrupted_and_never_writes_the_record() {
    use pikaci_core::{Liveness as _, RunOwner, SystemLiveness};
    use std::os::unix::fs::MetadataExt as _;
    let app = TestApp::new();
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    dead.wait().unwrap();
    let mut r = record(&app);
    r.status = RunStatus::Running;
    r.finished_at = None;
    r.jobs[0].status = RunStatus::Running;
    r.jobs[0].finished_at = None;
    r.owner = Some(RunOwner {
        pid: dead.id(),
        host: SystemLiveness::new().this_host().to_owned(),
        start_ticks: None,
        lock: false,
    });
    app.store.persist_run_record(&r).unwrap();
    let path = app.store.root().run_json(&r.run_id);
    let seen = || {
        let m = std::fs::symlink_metadata(&path).unwrap();
        (
            std::fs::read(&path).unwrap(),
            m.ino(),
            m.mtime(),
            m.mtime_nsec(),
        )
    };
    let before = seen();
    let router = app.app();
    let mut events = open(&router, &app.read, "", &[]).await;
    let rest = until_closed(&mut events).await;
    let end = rest.last().unwrap();
    assert_eq!(end.name, "end", "{rest:?}");
    assert_eq!(end.json()["status"], "failed");
    assert_eq!(end.json()["failure_kind"], "interrupted");
    assert!(before == seen(), "run.json was rewritten by a reader");
}

#[tokio::test(start_paused = true)]
async fn a_running_job_is_followed_until_it_ends() {
    let app = TestApp::new();
    set_running(&app);
    let router = app.app();
    let mut events = open(&router, &app.read, "", &[]).await;
    assert_eq!(events.expect().await.json()["status"], "running");
    assert_eq!(events.expect().await.text(), GUEST);
    app.append_guest(b"compiling\n");
    let more = events.next_log().await;
    assert_eq!(more.text(), "compiling\n");
    assert_eq!(more.id, Some(GUEST.len() as u64 + 10));
    app.append_guest(b"done\n");
    set_finished(&app, RunStatus::Passed);
    let mut rest = events.rest().await;
    let end = rest.pop().unwrap();
    assert_eq!(end.name, "end");
    assert_eq!(end.json()["status"], "passed");
    assert_eq!(end.json()["offset"], GUEST.len() + 15);
    let text: String = rest
        .iter()
        .filter(|e| e.name == "log")
        .map(Event::text)
        .collect();
    assert_eq!(text, "done\n");
    let status = rest
        .iter()
        .find(|e| e.name == "status")
        .expect("a status event");
    assert_eq!(status.json()["status"], "passed");
}

#[tokio::test(start_paused = true)]
async fn characters_are_never_cut_and_invalid_bytes_keep_byte_offsets() {
    let app = TestApp::new();
    set_running(&app);
    let router = app.app();
    let mut events = open(&router, &app.read, "", &[]).await;
    events.expect().await; // status
    events.expect().await; // what was there
    let base = GUEST.len() as u64;
    let euro = "€".as_bytes();
    app.append_guest(b"a");
    app.append_guest(&euro[..2]);
    let a = events.next_log().await;
    assert_eq!((a.text().as_str(), a.id), ("a", Some(base + 1)));
    app.append_guest(&euro[2..]);
    app.append_guest(b"\n\xff\n");
    let mut text = String::new();
    let mut last = None;
    while last != Some(base + 7) {
        let e = events.next_log().await;
        text.push_str(&e.text());
        last = e.id;
    }
    assert_eq!(text, "€\n\u{fffd}\n");
}

#[tokio::test(start_paused = true)]
async fn a_quiet_job_gets_heartbeats() {
    let app = TestApp::new();
    set_running(&app);
    let router = app.app();
    let mut events = open(&router, &app.read, "", &[]).await;
    events.expect().await;
    events.expect().await;
    let started = tokio::time::Instant::now();
    let beat = events.expect().await;
    assert!(beat.comment, "{beat:?}");
    assert_eq!(beat.data, "keep-alive");
    assert_eq!(started.elapsed().as_secs(), 15);
}

#[tokio::test(start_paused = true)]
async fn a_client_that_stops_reading_is_dropped_and_resumes_by_offset() {
    let app = TestApp::new();
    // 2 MiB of lines: about 32 events of 64 KiB.
    let mut big = Vec::new();
    let mut i = 0;
    while big.len() < 2 << 20 {
        writeln!(big, "line {i:07} with a few words of build output").unwrap();
        i += 1;
    }
    app.append_guest(&big);
    let whole = format!("{GUEST}{}", String::from_utf8(big).unwrap());
    let settings = Settings {
        client_queue: 4,
        stall_limit: Duration::from_secs(5),
        ..Settings::default()
    };
    let router = router(app.state().with_live_settings(settings));
    let mut slow = open(&router, &app.read, "", &[]).await;
    // The client reads nothing for longer than the stall limit.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let got = slow.rest().await;
    assert!(
        got.len() <= settings.client_queue + 1,
        "at most a queue's worth was held for it: {}",
        got.len()
    );
    assert!(got.iter().all(|e| e.name != "end"), "dropped, not ended");
    let mut text: String = got
        .iter()
        .filter(|e| e.name == "log")
        .map(Event::text)
        .collect();
    let last = got.iter().filter_map(|e| e.id).next_back().unwrap();
    assert_eq!(last, text.len() as u64);
    // It comes back where it was and gets the rest.
    let id = last.to_string();
    let mut again = open(&router, &app.read, "", &[("last-event-id", &id)]).await;
    let rest = again.rest().await;
    assert_eq!(rest.last().unwrap().name, "end");
    text.extend(rest.iter().filter(|e| e.name == "log").map(Event::text));
    assert!(text == whole, "resumed text differs from the log");
}

#[tokio::test(start_paused = true)]
async fn every_client_of_a_log_shares_one_follower() {
    let app = TestApp::new();
    set_running(&app);
    let state: AppState = app.state();
    let router = router(state.clone());
    let mut clients = Vec::new();
    for _ in 0..5 {
        let mut e = open(&router, &app.read, "", &[]).await;
        e.expect().await;
        e.expect().await;
        clients.push(e);
    }
    assert_eq!(state.followed_logs(), 1);
    app.append_guest(b"for everyone\n");
    for c in &mut clients {
        assert_eq!(c.next_log().await.text(), "for everyone\n");
    }
    drop(clients);
    // With its clients gone the follower stops at once: no poll, no
    // heartbeat has to pass first (the paused clock does not move).
    // Busy yielding keeps the paused clock still (it moves only when the
    // runtime idles); the hub's last step on the blocking pool may take a
    // moment of real time.
    let left = tokio::time::Instant::now();
    let real = std::time::Instant::now();
    while state.followed_logs() != 0 && real.elapsed() < Duration::from_secs(10) {
        tokio::task::yield_now().await;
    }
    assert_eq!(state.followed_logs(), 0);
    assert_eq!(left.elapsed(), Duration::ZERO);
}

#[tokio::test]
async fn bad_input_is_refused_like_every_read_route() {
    let app = TestApp::new();
    for (query, status) in [
        ("?kind=both", StatusCode::BAD_REQUEST),
        ("?offset=-1", StatusCode::BAD_REQUEST),
        ("?job=..%2fx", StatusCode::BAD_REQUEST),
        ("?job=ghost", StatusCode::NOT_FOUND),
    ] {
        let (s, body) = app.get(&uri(query)).await;
        assert_eq!(s, status, "{query}: {body}");
    }
    let req = Request::builder()
        .uri(uri(""))
        .header("authorization", format!("Bearer {}", app.read))
        .header("last-event-id", "abc")
        .body(Body::empty())
        .unwrap();
    let resp = app.app().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    for auth in [None, Some(format!("Bearer {}", app.revoked))] {
        let (s, _) = app.send("GET", &uri(""), auth.as_deref()).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
}

/// A real server, a real client over TCP, and a log that really grows: each
/// line is written once the client has shown the previous one.
#[tokio::test]
async fn over_a_real_socket_a_growing_log_arrives_line_by_line() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let app = TestApp::new();
    set_running(&app);
    let (addr, server) = crate::support::serve(app.app()).await;
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(
            format!(
                "GET {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\n\r\n",
                uri("?job=build&kind=guest"),
                app.read
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut reader = BufReader::new(socket);
    // Reads SSE lines (skipping the chunked framing) until a whole event.
    let mut next_event = async || -> Event {
        let mut frame = String::new();
        loop {
            let mut line = String::new();
            assert!(reader.read_line(&mut line).await.unwrap() > 0, "closed");
            if line.starts_with("event: ")
                || line.starts_with("id: ")
                || line.starts_with("data: ")
                || line.starts_with(':')
            {
                frame.push_str(&line);
            } else if line == "\n" && !frame.is_empty() {
                return parse(&frame);
            }
        }
    };
    let mut seen = String::new();
    while !seen.ends_with("boom\n") {
        let e = next_event().await;
        if e.name == "log" {
            seen.push_str(&e.text());
        }
    }
    for i in 0..20 {
        let line = format!("step {i}\n");
        app.append_guest(line.as_bytes());
        let mut got = String::new();
        while got != line {
            let e = next_event().await;
            if e.name == "log" {
                got.push_str(&e.text());
                assert!(line.starts_with(&got), "{got:?}");
            }
        }
        seen.push_str(&got);
    }
    set_finished(&app, RunStatus::Passed);
    loop {
        let e = next_event().await;
        if e.name == "end" {
            assert_eq!(e.json()["offset"], seen.len());
            break;
        }
    }
    let file = std::fs::read_to_string(app.store.root().job_log(
        &RUN.parse().unwrap(),
        &"build".parse().unwrap(),
        LogFile::Guest,
    ))
    .unwrap();
    assert_eq!(seen, file);
    server.abort();
}

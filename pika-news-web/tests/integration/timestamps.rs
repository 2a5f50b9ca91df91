//! Per-line times: `raw?timestamps=1` and the stream's `&timestamps=1`, read
//! from the log's sidecar without touching the log's bytes.

use std::io::Write;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use pikaci_core::LogFile;
use pikaci_core::log_times::{MAGIC, TimeRecord};
use tower::ServiceExt;

use crate::support::{RUN, TestApp, oneshot};

/// 2026-03-24T16:12:38.123Z and one and two seconds later.
const T0: i64 = 1_774_368_758_123;
const P0: &str = "2026-03-24T16:12:38.123Z ";
const P1: &str = "2026-03-24T16:12:39.123Z ";
const P2: &str = "2026-03-24T16:12:40.123Z ";

fn sidecar_path(app: &TestApp) -> camino::Utf8PathBuf {
    app.store.root().job_log_times(
        &RUN.parse().unwrap(),
        &"build".parse().unwrap(),
        LogFile::Guest,
    )
}

/// Replaces the guest log's sidecar: "line 1\n" at T0, "line 2\n" a second
/// later, the coloured line two seconds later.
fn known_times(app: &TestApp) {
    let mut bytes = MAGIC.to_vec();
    for (end, ms) in [(7, T0), (14, T0 + 1000), (35, T0 + 2000)] {
        bytes.extend(TimeRecord { end, ms }.encode());
    }
    std::fs::write(sidecar_path(app), bytes).unwrap();
}

async fn get(
    app: &TestApp,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, header::HeaderMap, String) {
    let auth = format!("Bearer {}", app.read);
    let mut all = vec![("authorization", auth.as_str())];
    all.extend_from_slice(headers);
    let (status, headers, body) = oneshot(app.app(), "GET", uri, &all, Body::empty()).await;
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

fn raw(query: &str) -> String {
    format!("/news/api/forge/pikaci/logs/{RUN}/raw?timestamps=1{query}")
}

#[tokio::test]
async fn raw_lines_get_their_times_and_the_log_is_untouched() {
    let app = TestApp::new();
    known_times(&app);
    let (status, headers, body) = get(&app, &raw(""), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        format!("{P0}line 1\n{P1}line 2\n{P2}\x1b[31merror\x1b[0m: boom\n")
    );
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(headers[header::ACCEPT_RANGES], "none");
    assert_eq!(headers["x-log-offset"], "0");
    assert_eq!(headers["x-log-end"], "35");
    assert!(headers.get(header::ETAG).is_none());
    // The log itself has no times in it.
    let (_, _, plain) = get(&app, &format!("/news/api/forge/pikaci/logs/{RUN}/raw"), &[]).await;
    assert_eq!(plain, "line 1\nline 2\n\x1b[31merror\x1b[0m: boom\n");
}

#[tokio::test]
async fn a_span_is_chosen_by_offset_limit_or_tail_and_range_is_not_used() {
    let app = TestApp::new();
    known_times(&app);
    let (_, headers, body) = get(&app, &raw("&offset=7&limit=7"), &[]).await;
    assert_eq!(body, format!("{P1}line 2\n"));
    assert_eq!(
        (&headers["x-log-offset"], &headers["x-log-end"]),
        (&"7".parse().unwrap(), &"14".parse().unwrap())
    );
    // A tail that starts inside a line: that line has no time, the next do.
    let (_, headers, body) = get(&app, &raw("&tail=23"), &[]).await;
    assert_eq!(body, format!("2\n{P2}\x1b[31merror\x1b[0m: boom\n"));
    assert_eq!(headers["x-log-offset"], "12");
    let (status, _, body) = get(&app, &raw(""), &[("range", "bytes=0-3")]).await;
    assert_eq!(status, StatusCode::OK, "Range is not used with timestamps");
    assert!(body.starts_with(P0));
    let (status, _, body) = get(&app, &raw("&tail=5&offset=1"), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn a_log_without_a_sidecar_reads_as_before_and_a_damaged_one_is_a_500() {
    let app = TestApp::new();
    std::fs::remove_file(sidecar_path(&app)).unwrap();
    let (status, _, body) = get(&app, &raw(""), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "line 1\nline 2\n\x1b[31merror\x1b[0m: boom\n");
    std::fs::write(sidecar_path(&app), [b'x'; 32]).unwrap();
    let (status, _, body) = get(&app, &raw(""), &[]).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        body.contains("jobs/build/guest.log.ts is corrupt"),
        "{body}"
    );
    assert!(!body.contains(app.store.root().path().as_str()), "{body}");
}

#[tokio::test]
async fn written_through_the_store_lines_are_dated_when_they_arrived() {
    let app = TestApp::new();
    let before = jiff::Timestamp::now();
    app.store
        .open_job_log(
            &RUN.parse().unwrap(),
            &"build".parse().unwrap(),
            LogFile::Guest,
        )
        .unwrap()
        .write_all(b"fresh line\n")
        .unwrap();
    let (_, _, body) = get(&app, &raw("&offset=35"), &[]).await;
    let (stamp, line) = body.split_once(' ').unwrap();
    assert_eq!(line, "fresh line\n");
    let t: jiff::Timestamp = stamp.parse().unwrap();
    assert!(
        t.as_millisecond() >= before.as_millisecond(),
        "{t} {before}"
    );
    assert_eq!(stamp.len(), 24, "{stamp}");
}

#[tokio::test(start_paused = true)]
async fn the_stream_prefixes_lines_from_the_start_and_live() {
    let app = TestApp::new();
    known_times(&app);
    let mut r = app
        .store
        .run(&RUN.parse().unwrap())
        .unwrap()
        .record()
        .unwrap();
    r.status = pikaci_core::RunStatus::Running;
    r.jobs[0].status = pikaci_core::RunStatus::Running;
    app.store.persist_run_record(&r).unwrap();
    let router = app.app();
    let req = Request::builder()
        .uri(format!(
            "/news/api/forge/pikaci/logs/{RUN}/stream?timestamps=1&offset=7"
        ))
        .header("authorization", format!("Bearer {}", app.read))
        .body(Body::empty())
        .unwrap();
    let resp = router.oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let mut buf = String::new();
    let mut next = async || -> String {
        loop {
            if let Some(at) = buf.find("\n\n") {
                return buf.drain(..at + 2).collect();
            }
            let frame = body.frame().await.unwrap().unwrap().into_data().unwrap();
            buf.push_str(std::str::from_utf8(&frame).unwrap());
        }
    };
    assert!(next().await.starts_with("event: status"));
    let first = next().await;
    let want =
        serde_json::to_string(&format!("{P1}line 2\n{P2}\x1b[31merror\x1b[0m: boom\n")).unwrap();
    assert_eq!(first, format!("event: log\nid: 35\ndata: {want}\n\n"));
    // A line written now is dated by the store's writer and sent with it.
    let mut w = app
        .store
        .open_job_log(
            &RUN.parse().unwrap(),
            &"build".parse().unwrap(),
            LogFile::Guest,
        )
        .unwrap();
    w.write_all(b"live\n").unwrap();
    drop(w);
    let live = next().await;
    let data = live.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let text: String = serde_json::from_str(data).unwrap();
    let (stamp, line) = text.split_once(' ').unwrap();
    assert_eq!(line, "live\n");
    let dated = app
        .store
        .run(&RUN.parse().unwrap())
        .unwrap()
        .job(None)
        .unwrap()
        .log(LogFile::Guest)
        .times()
        .unwrap()
        .unwrap()
        .time_at(35)
        .unwrap()
        .unwrap();
    assert_eq!(
        stamp,
        jiff::Timestamp::from_millisecond(dated)
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    );
}

//! Bounded memory per request: log text capped by its encoded size, large
//! reads under a small number of permits, and records read within a bound.

use std::io::Write as _;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use pika_news_core::data_dir::DataDir;
use pika_news_web::ANSWER_BUDGET;
use pika_news_web::{AppState, HeavyReads, MAX_SERVED_RECORD_BYTES, router};
use pikaci_core::{LogFile, RunRecord};
use tower::ServiceExt as _;

use crate::support::{RUN, TestApp};

/// 9 MiB of NUL bytes: 54 MiB once escaped as JSON.
fn nuls(app: &TestApp, file: LogFile) {
    let record: RunRecord = app.store.load_run_record(&RUN.parse().unwrap()).unwrap();
    let mut log = app
        .store
        .open_job_log(&record.run_id, &record.jobs[0].id, file)
        .unwrap();
    log.write_all(&vec![0u8; 9 << 20]).unwrap();
}

#[tokio::test]
async fn nul_filled_logs_are_capped_by_their_encoded_size() {
    let app = TestApp::new();
    nuls(&app, LogFile::Host);
    nuls(&app, LogFile::Guest);
    for query in [
        "",
        "?kind=guest",
        "?kind=both&tail=99999999",
        "?kind=host&offset=0&limit=99999999",
    ] {
        let uri = format!("/news/api/forge/pikaci/logs/{RUN}{query}");
        let req = Request::builder()
            .uri(&uri)
            .header("authorization", format!("Bearer {}", app.read))
            .body(Body::empty())
            .unwrap();
        let resp = app.app().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{uri}");
        let length: u64 = resp.headers()[header::CONTENT_LENGTH]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(bytes.len() as u64, length);
        assert!(
            length <= ANSWER_BUDGET + 1024,
            "{uri}: {length} bytes, over the {ANSWER_BUDGET} budget"
        );
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        for (text, part) in [("host", "host_log"), ("guest", "guest_log")] {
            if body[text].is_null() {
                continue;
            }
            let shown = body[text].as_str().unwrap().len() as u64;
            assert_eq!(body[part]["len"].as_u64().unwrap(), shown, "{uri}");
            assert_eq!(body[part]["truncated"], true, "{uri}");
            assert!(shown > 0, "{uri}: some of the log is shown");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn large_reads_share_a_few_permits_and_the_rest_wait_then_get_503() {
    let app = TestApp::new();
    nuls(&app, LogFile::Guest);
    let state = AppState::new(app.db.clone(), app.store.root().path().to_owned(), false)
        .with_data_dir(DataDir::new(app.store.root().path().join("data")))
        .with_heavy_reads(HeavyReads::new(1, Duration::from_secs(3)));
    let router = router(state);
    let get = |uri: String| {
        Request::builder()
            .uri(uri)
            .header("authorization", format!("Bearer {}", app.read))
            .body(Body::empty())
            .unwrap()
    };
    let whole = format!("/news/api/forge/pikaci/logs/{RUN}?kind=guest");
    // An answer not yet sent holds the only permit.
    let first = router.clone().oneshot(get(whole.clone())).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let busy = router.clone().oneshot(get(whole.clone())).await.unwrap();
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
    let body = busy.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(body["error"].as_str().unwrap().contains("busy"), "{body}");
    // Small reads never need one.
    let tail = router
        .clone()
        .oneshot(get(format!("{whole}&tail=65536")))
        .await
        .unwrap();
    assert_eq!(tail.status(), StatusCode::OK);
    // Once the first answer is sent, the next one gets the permit.
    let _ = first.into_body().collect().await.unwrap();
    let again = router.oneshot(get(whole)).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
}

#[tokio::test]
async fn records_over_the_served_bound_are_refused_unread_and_large_ones_served() {
    let app = TestApp::new();
    let mut record: RunRecord = app.store.load_run_record(&RUN.parse().unwrap()).unwrap();
    record.message = Some("x".repeat(1 << 20));
    app.store.persist_run_record(&record).unwrap();
    let (status, body) = app.get(&format!("/news/api/forge/pikaci/run/{RUN}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["message"].as_str().unwrap().len(), 1 << 20);

    record.message = Some("x".repeat(MAX_SERVED_RECORD_BYTES as usize));
    app.store.persist_run_record(&record).unwrap();
    let (status, body) = app.get(&format!("/news/api/forge/pikaci/run/{RUN}")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("more than the {MAX_SERVED_RECORD_BYTES} bytes"))
            && error.contains("pikaci status"),
        "{error}"
    );
    assert!(!error.contains('/'), "no server path: {error}");
}

/// A client that asks for a large answer and reads none of it: its
/// connection is closed once the answer has made no progress for the send
/// timeout, which frees the permit for the next large read.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_reads_nothing_loses_its_permit_at_the_send_timeout() {
    use pika_news_core::http_limits::HttpLimits;
    use pika_news_web::serve_router;
    use std::io::{Read as _, Write as _};

    let app = TestApp::new();
    nuls(&app, LogFile::Guest);
    let state = AppState::new(app.db.clone(), app.store.root().path().to_owned(), false)
        .with_data_dir(DataDir::new(app.store.root().path().join("data")))
        .with_heavy_reads(HeavyReads::new(1, Duration::from_secs(10)));
    let limits = HttpLimits {
        send_timeout: Duration::from_secs(1),
        ..HttpLimits::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn({
        let stop = stop.clone();
        serve_router(listener, router(state), limits, 64, 1, async move {
            stop.cancelled().await;
        })
    });
    let ask = format!(
        "GET /news/api/forge/pikaci/logs/{RUN}?kind=guest HTTP/1.1\r\nHost: x\r\n\
         Authorization: Bearer {}\r\n\r\n",
        app.read
    );
    let outcome = tokio::task::spawn_blocking(move || {
        // 8 MiB of escaped text, more than the socket buffers hold: never read.
        let mut stalled = std::net::TcpStream::connect(addr).unwrap();
        stalled.write_all(ask.as_bytes()).unwrap();
        // Its answer holds the only permit before the next one asks.
        std::thread::sleep(Duration::from_millis(300));
        let mut next = std::net::TcpStream::connect(addr).unwrap();
        next.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        next.write_all(ask.as_bytes()).unwrap();
        let started = std::time::Instant::now();
        let mut head = [0u8; 12];
        next.read_exact(&mut head).unwrap();
        let waited = started.elapsed();
        // The stalled connection was closed by the server.
        stalled
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut rest = Vec::new();
        let closed = stalled.read_to_end(&mut rest).is_ok() || !rest.is_empty();
        (String::from_utf8_lossy(&head).into_owned(), waited, closed)
    })
    .await
    .unwrap();
    let (head, waited, closed) = outcome;
    assert_eq!(head, "HTTP/1.1 200", "the next large read got the permit");
    assert!(
        waited < Duration::from_secs(8),
        "{waited:?}: it waited for the permit's own timeout"
    );
    assert!(closed, "the stalled connection ends");
    stop.cancel();
    let _ = server.await;
}

#[test]
fn live_streams_beat_well_within_the_send_timeout() {
    let heartbeat = pika_news_web::LiveSettings::default().heartbeat;
    let send = pika_news_core::http_limits::HttpLimits::default().send_timeout;
    assert!(heartbeat * 2 < send, "{heartbeat:?} vs {send:?}");
}

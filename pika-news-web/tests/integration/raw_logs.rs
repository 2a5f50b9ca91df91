//! The raw log route: the whole log streamed, byte ranges, validators, HEAD,
//! downloads, and the same checks as every read route.

use std::io::Write;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use pikaci_core::LogFile;

use crate::support::{RUN, TestApp, oneshot};

const GUEST: &[u8] = b"line 1\nline 2\n\x1b[31merror\x1b[0m: boom\n";

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }
}

async fn ask(app: &TestApp, method: &str, uri: &str, headers: &[(&str, &str)]) -> Answer {
    let auth = format!("Bearer {}", app.read);
    let mut all = vec![("authorization", auth.as_str())];
    all.extend_from_slice(headers);
    let (status, headers, body) = oneshot(app.app(), method, uri, &all, Body::empty()).await;
    Answer {
        status,
        headers,
        body: body.to_vec(),
    }
}

fn raw(query: &str) -> String {
    format!("/news/api/forge/pikaci/logs/{RUN}/raw{query}")
}

#[tokio::test]
async fn the_whole_log_as_plain_text_with_its_validators() {
    let app = TestApp::new();
    let a = ask(&app, "GET", &raw(""), &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, GUEST, "the guest log by default, byte for byte");
    assert_eq!(a.header(header::CONTENT_TYPE), "text/plain; charset=utf-8");
    assert_eq!(a.header(header::CONTENT_LENGTH), GUEST.len().to_string());
    assert_eq!(a.header(header::ACCEPT_RANGES), "bytes");
    assert_eq!(a.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(a.header(header::CACHE_CONTROL), "no-cache");
    assert!(a.headers.get(header::CONTENT_DISPOSITION).is_none());
    let etag = a.header(header::ETAG);
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

    let host = ask(&app, "GET", &raw("?job=build&kind=host"), &[]).await;
    assert_eq!(host.status, StatusCode::OK);
    assert_eq!(host.body, b"[pikaci] ran cargo test\n");
    assert_ne!(host.header(header::ETAG), etag, "another file, another tag");
}

#[tokio::test]
async fn single_ranges_answer_206_and_others_416() {
    let app = TestApp::new();
    let size = GUEST.len();
    for (range, start, end) in [
        ("bytes=0-3", 0, 3),
        ("bytes=7-", 7, size - 1),
        ("bytes=-5", size - 5, size - 1),
        ("bytes=5-100000", 5, size - 1),
        ("bytes=-100000", 0, size - 1),
    ] {
        let a = ask(&app, "GET", &raw(""), &[("range", range)]).await;
        assert_eq!(a.status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(
            a.header(header::CONTENT_RANGE),
            format!("bytes {start}-{end}/{size}"),
            "{range}"
        );
        assert_eq!(a.body, &GUEST[start..=end], "{range}");
        assert_eq!(
            a.header(header::CONTENT_LENGTH),
            (end - start + 1).to_string()
        );
    }
    for range in [
        format!("bytes={size}-"),
        format!("bytes={}-{}", size + 10, size + 20),
        "bytes=-0".to_owned(),
        "bytes=0-1,4-5".to_owned(),
    ] {
        let a = ask(&app, "GET", &raw(""), &[("range", &range)]).await;
        assert_eq!(a.status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(a.header(header::CONTENT_RANGE), format!("bytes */{size}"));
        let body: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
        assert!(body["error"].is_string(), "{body}");
    }
    // Not a byte range at all: ignored, the whole log.
    for range in ["items=0-1", "bytes=9-2", "bytes=x"] {
        let a = ask(&app, "GET", &raw(""), &[("range", range)]).await;
        assert_eq!(a.status, StatusCode::OK, "{range}");
        assert_eq!(a.body, GUEST);
    }
}

#[tokio::test]
async fn head_gives_the_headers_and_no_body() {
    let app = TestApp::new();
    let a = ask(&app, "HEAD", &raw(""), &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.header(header::CONTENT_LENGTH), GUEST.len().to_string());
    assert!(a.body.is_empty());
    let a = ask(&app, "HEAD", &raw(""), &[("range", "bytes=-4")]).await;
    assert_eq!(a.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(a.header(header::CONTENT_LENGTH), "4");
    assert!(a.body.is_empty());
}

#[tokio::test]
async fn the_etag_changes_as_the_log_grows_and_conditions_use_it() {
    let app = TestApp::new();
    let first = ask(&app, "GET", &raw(""), &[]).await;
    let old = first.header(header::ETAG).to_owned();
    let same = ask(&app, "GET", &raw(""), &[("if-none-match", &old)]).await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);
    assert!(same.body.is_empty());
    assert_eq!(same.header(header::ETAG), old);
    let any = ask(&app, "GET", &raw(""), &[("if-none-match", "\"x\", W/*")]).await;
    assert_eq!(any.status, StatusCode::OK, "no tag of these matches");

    app.append_guest(b"more\n");
    let grown = ask(&app, "GET", &raw(""), &[("if-none-match", &old)]).await;
    assert_eq!(grown.status, StatusCode::OK, "the log grew: a new version");
    let new = grown.header(header::ETAG).to_owned();
    assert_ne!(new, old);
    assert!(grown.body.ends_with(b"boom\nmore\n"));

    // If-Range: the range only while the tag is current, else the whole log.
    let stale = ask(
        &app,
        "GET",
        &raw(""),
        &[("range", "bytes=-5"), ("if-range", &old)],
    )
    .await;
    assert_eq!(stale.status, StatusCode::OK);
    assert_eq!(stale.body.len(), GUEST.len() + 5);
    let current = ask(
        &app,
        "GET",
        &raw(""),
        &[("range", "bytes=-5"), ("if-range", &new)],
    )
    .await;
    assert_eq!(current.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(current.body, b"more\n");
}

#[tokio::test]
async fn download_names_an_attachment() {
    let app = TestApp::new();
    let a = ask(&app, "GET", &raw("?kind=guest&download=1"), &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.header(header::CONTENT_DISPOSITION),
        format!("attachment; filename=\"{RUN}-build-guest.log\"")
    );
    let bad = ask(&app, "GET", &raw("?download=yes"), &[]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_log_larger_than_a_piece_streams_exactly_and_ranges_cross_pieces() {
    let app = TestApp::new();
    // 3 MiB + a bit of numbered lines: several pieces of the body stream.
    let mut big = Vec::new();
    let mut i = 0u64;
    while big.len() < 3 * 1024 * 1024 + 12_345 {
        writeln!(big, "line {i:08} of generated output").unwrap();
        i += 1;
    }
    app.append_guest(&big);
    let mut all = GUEST.to_vec();
    all.extend_from_slice(&big);
    let a = ask(&app, "GET", &raw(""), &[]).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body == all, "the streamed log differs from the file");
    let (start, end) = (500_000usize, 1_700_000usize);
    let a = ask(
        &app,
        "GET",
        &raw(""),
        &[("range", &format!("bytes={start}-{end}"))],
    )
    .await;
    assert_eq!(a.status, StatusCode::PARTIAL_CONTENT);
    assert!(a.body == all[start..=end]);
}

#[tokio::test]
async fn bad_input_is_refused_like_every_read_route() {
    let app = TestApp::new();
    for (query, status) in [
        ("?kind=both", StatusCode::BAD_REQUEST),
        ("?kind=../guest", StatusCode::BAD_REQUEST),
        ("?job=..%2fx", StatusCode::BAD_REQUEST),
        ("?job=ghost", StatusCode::NOT_FOUND),
    ] {
        let a = ask(&app, "GET", &raw(query), &[]).await;
        assert_eq!(a.status, status, "{query}");
        let body: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
        assert!(body["error"].is_string());
    }
    let (status, _) = app.get("/news/api/forge/pikaci/logs/..%2fx/raw").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = app
        .get("/news/api/forge/pikaci/logs/20990101T000000Z-00000000/raw")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // A job that has written nothing yet has no log to stream.
    let run = app.store.run(&RUN.parse().unwrap()).unwrap();
    let mut record = run.record().unwrap();
    record.planned_jobs = vec!["later".parse().unwrap()];
    app.store.persist_run_record(&record).unwrap();
    let (status, body) = app.get(&raw("?job=later")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(
        body["error"],
        format!("run {RUN} job later has no guest.log")
    );
    for auth in [None, Some(format!("Bearer {}", app.revoked))] {
        let (status, body) = app.send("GET", &raw(""), auth.as_deref()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    }
}

#[tokio::test]
async fn a_truncated_json_answer_names_the_raw_route() {
    let app = TestApp::new();
    let (status, body) = app
        .get(&format!(
            "/news/api/forge/pikaci/logs/{RUN}?kind=guest&tail=5"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["guest_log"]["truncated"], true);
    assert_eq!(
        body["guest_log"]["raw_url"],
        format!("/news/api/forge/pikaci/logs/{RUN}/raw?job=build&kind=guest")
    );
    // Asked under /git, the answer names the route under /git.
    let (_, git) = app
        .get(&format!(
            "/git/api/forge/pikaci/logs/{RUN}?kind=guest&tail=5"
        ))
        .await;
    assert_eq!(
        git["guest_log"]["raw_url"],
        format!("/git/api/forge/pikaci/logs/{RUN}/raw?job=build&kind=guest")
    );
    let (_, whole) = app
        .get(&format!("/news/api/forge/pikaci/logs/{RUN}?kind=guest"))
        .await;
    assert!(whole["guest_log"].get("raw_url").is_none(), "{whole}");
}

#[tokio::test]
async fn over_a_real_socket_head_keeps_its_length_and_get_streams() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::new();
    let (addr, server) = crate::support::serve(app.app()).await;
    let exchange = |request: String| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(request.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        String::from_utf8_lossy(&out).into_owned()
    };
    let req = |method: &str, extra: &str| {
        format!(
            "{method} {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n{extra}Connection: close\r\n\r\n",
            raw(""),
            app.read
        )
    };
    let head = exchange(req("HEAD", "")).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-length: {}\r\n", GUEST.len())),
        "{head}"
    );
    assert!(head.ends_with("\r\n\r\n"), "no body after HEAD: {head:?}");
    let get = exchange(req("GET", "Range: bytes=-5\r\n")).await;
    assert!(get.starts_with("HTTP/1.1 206"), "{get}");
    assert!(get.ends_with("boom\n"), "{get:?}");
    server.abort();
}

/// One server answering again and again: what it keeps of a log (a tail
/// many people open) is never older than the log.
#[tokio::test]
async fn a_kept_span_is_never_older_than_the_log() {
    let app = TestApp::new();
    let state = app.state();
    let router = pika_news_web::router(state.clone());
    let ask = |headers: Vec<(&'static str, String)>| {
        let (router, token) = (router.clone(), app.read.clone());
        async move {
            let auth = format!("Bearer {token}");
            let mut all = vec![("authorization", auth.as_str())];
            all.extend(headers.iter().map(|(k, v)| (*k, v.as_str())));
            let (status, headers, body) = oneshot(
                router,
                "GET",
                &raw("?job=build&kind=guest"),
                &all,
                Body::empty(),
            )
            .await;
            let etag = headers
                .get(header::ETAG)
                .map(|v| v.to_str().unwrap().to_owned());
            (status, etag, body.to_vec())
        }
    };
    let tail = || vec![("range", "bytes=-5".to_owned())];
    let (s, tag, body) = ask(tail()).await;
    assert_eq!(
        (s, body.as_slice()),
        (StatusCode::PARTIAL_CONTENT, &b"boom\n"[..])
    );
    // The tail is kept (the job's folder is watched), and answered from memory.
    assert_eq!(state.cached_spans(), 1);
    for _ in 0..3 {
        let (_, again, body) = ask(tail()).await;
        assert_eq!(
            (again.clone(), body.as_slice()),
            (tag.clone(), &b"boom\n"[..])
        );
    }
    let (s, _, _) = ask(vec![("if-none-match", tag.clone().unwrap())]).await;
    assert_eq!(s, StatusCode::NOT_MODIFIED);
    // The log grows: the next answer has the new bytes and a new tag.
    app.append_guest(b"more\n");
    let (_, grown, body) = ask(tail()).await;
    assert_eq!(body, b"more\n");
    assert_ne!(grown, tag);
    // The log is replaced by another file of the same size.
    let path = app.store.root().job_log(
        &RUN.parse().unwrap(),
        &"build".parse().unwrap(),
        LogFile::Guest,
    );
    let mut same_size = std::fs::read(&path).unwrap();
    let n = same_size.len();
    same_size[n - 5..].copy_from_slice(b"MORE\n");
    std::fs::write(path.with_file_name("new.log"), &same_size).unwrap();
    std::fs::rename(path.with_file_name("new.log"), &path).unwrap();
    let (_, _, body) = ask(tail()).await;
    assert_eq!(body, b"MORE\n");
    // A span outside what was kept is read from the log.
    let (s, _, body) = ask(vec![("range", "bytes=0-5".to_owned())]).await;
    assert_eq!(
        (s, body.as_slice()),
        (StatusCode::PARTIAL_CONTENT, &b"line 1"[..])
    );
}

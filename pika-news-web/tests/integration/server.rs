//! `serve`: the whole service on a listener the test bound, stopped by the
//! test's own shutdown future (no signals, no process environment).

use std::collections::BTreeMap;

use pika_news_web::{Config, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::forge::Forge;

#[tokio::test]
async fn serve_answers_on_the_given_listener_until_its_shutdown_completes() {
    let f = Forge::new();
    let config = Config {
        bind_address: "unused".into(),
        bind_port: 0,
        database: f.root.join("serve.sqlite"),
        public_read: true,
        forge_repo: f.repo.clone(),
        lanes: Default::default(),
        http: Default::default(),
        bootstrap_admin_npubs: Vec::new(),
        public_url: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, config, BTreeMap::new(), async {
        let _ = stopped.await;
    }));
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut resp = String::new();
    stream.read_to_string(&mut resp).await.unwrap();
    assert!(
        resp.starts_with("HTTP/1.1 200") && resp.ends_with(r#"{"status":"ok"}"#),
        "{resp}"
    );
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(f.root.join("serve.sqlite").exists());
}

/// Many connections at once are answered (they are spread over the serving
/// threads), and a live log stream still open when the shutdown comes is
/// closed, so the shutdown completes.
#[tokio::test]
async fn connections_spread_over_workers_and_open_streams_end_at_shutdown() {
    use pika_news_core::db::{Db, Role};
    use pikaci_core::{LogFile, RunRecord, RunStatus};
    use std::io::Write;

    let f = Forge::new();
    let config = Config {
        bind_address: "unused".into(),
        bind_port: 0,
        database: f.root.join("serve.sqlite"),
        public_read: false,
        forge_repo: f.repo.clone(),
        lanes: Default::default(),
        http: Default::default(),
        bootstrap_admin_npubs: Vec::new(),
        public_url: None,
    };
    let token = Db::open(&config.database)
        .unwrap()
        .create_token("t", Role::Read)
        .unwrap();
    // A running job with some output, to follow.
    let store = pikaci_store::Store::open(f.repo.pikaci_state_root.clone());
    let mut record = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
    record.status = RunStatus::Running;
    record.finished_at = None;
    record.jobs[0].status = RunStatus::Running;
    store.persist_run_record(&record).unwrap();
    store
        .open_job_log(&record.run_id, &record.jobs[0].id, LogFile::Guest)
        .unwrap()
        .write_all(b"building\n")
        .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, config, BTreeMap::new(), async {
        let _ = stopped.await;
    }));
    let get = |path: String| {
        let token = token.clone();
        async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        }
    };
    let run = format!("/news/api/forge/pikaci/run/{}", record.run_id);
    let answers = futures_join((0..32).map(|_| tokio::spawn(get(run.clone()))).collect()).await;
    assert!(
        answers.iter().all(|a| a.starts_with("HTTP/1.1 200")),
        "{answers:?}"
    );

    // A stream, left open.
    let mut live = tokio::net::TcpStream::connect(addr).await.unwrap();
    live.write_all(
        format!(
            "GET /news/api/forge/pikaci/logs/{}/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n",
            record.run_id
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("building") {
        let n = live.read(&mut buf).await.unwrap();
        assert!(n > 0);
        seen.extend_from_slice(&buf[..n]);
    }
    stop.send(()).unwrap();
    // A guard against a hang, not a timing assertion.
    let done = tokio::time::timeout(std::time::Duration::from_secs(60), server).await;
    done.expect("the shutdown completed").unwrap().unwrap();
    // The stream was ended by the server.
    let mut rest = Vec::new();
    live.read_to_end(&mut rest).await.unwrap();
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<String>>) -> Vec<String> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

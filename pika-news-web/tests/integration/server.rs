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

//! Mount pika-news' read endpoints inside another axum application.
//!
//! `cargo run -p pikaci-examples --example mount_endpoints`
//!
//! `pika_news_web::router` is a plain `axum::Router`: nest it under a prefix
//! of your own service, next to your own routes. Auth, ids, ranges and errors
//! behave exactly as in `pika-news serve`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use camino::Utf8PathBuf;
use http_body_util::BodyExt;
use pika_news_core::db::{Db, Role};
use pika_news_web::{AppState, router};
use pikaci_core::engine::{Engine, HostExecutor, JobSelection, NoObserver, RunRequest};
use pikaci_core::{Pipeline, RunId};
use pikaci_store::Store;
use tower::ServiceExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let dir = Utf8PathBuf::try_from(tmp.path().to_owned())?;

    // A state root with one run, as pikaci would leave it.
    let store = Store::open(dir.join("state"));
    let run = sample_run(&store, &dir).await?;

    // pika-news' database, and a read token.
    let db = Db::open(&dir.join("news.sqlite"))?;
    let token = db.create_token("embedder", Role::Read)?;

    // Your application, with pika-news' routes nested under /ci.
    let app = axum::Router::new()
        .route("/", get(|| async { "my service" }))
        .nest("/ci", router(AppState::new(db, dir.join("state"), false)));

    for uri in [
        "/".to_owned(),
        format!("/ci/news/api/forge/pikaci/run/{run}"),
        format!("/ci/news/api/forge/pikaci/logs/{run}?kind=guest&tail=64"),
    ] {
        let req = Request::builder()
            .uri(&uri)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())?;
        let resp = app.clone().oneshot(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        let text = String::from_utf8_lossy(&body);
        println!(
            "GET {uri} -> {status}\n  {}",
            text.chars().take(160).collect::<String>()
        );
    }
    Ok(())
}

/// Runs a one-job pipeline with the host executor, as `pikaci run` would.
async fn sample_run(store: &Store, dir: &Utf8PathBuf) -> Result<RunId, Box<dyn std::error::Error>> {
    let source = dir.join("repo");
    std::fs::create_dir_all(&source)?;
    let text = "[[job]]\nid = \"hello\"\ncommand = \"echo hello from the job\"\n";
    let pipeline = Pipeline::parse(text, camino::Utf8Path::new("pikaci.toml"))?;
    let engine = Engine::builder(store.clone())
        .executor(Arc::new(HostExecutor::new()))
        .build();
    Ok(engine
        .run(
            RunRequest::new(JobSelection::all(&pipeline), source),
            &NoObserver,
        )
        .await
        .run_id)
}

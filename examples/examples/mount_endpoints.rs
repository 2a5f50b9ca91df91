//! Mount pika-news' read endpoints inside another axum application.
//!
//! `cargo run -p pikaci-examples --example mount_endpoints`
//!
//! `pika_news_web::router` is a plain `axum::Router`: nest it under a prefix
//! of your own service, next to your own routes. Auth, ids, ranges and errors
//! behave exactly as in `pika-news serve`.

use std::io::Write;

use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use camino::Utf8PathBuf;
use http_body_util::BodyExt;
use pika_news_web::db::{Db, Role};
use pika_news_web::{AppState, router};
use pikaci_core::engine::{Clock, SystemClock};
use pikaci_core::{ExecutorKind, JobRecord, LogFile, RunId, RunRecord, RunStatus};
use pikaci_store::Store;
use tower::ServiceExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let dir = Utf8PathBuf::try_from(tmp.path().to_owned())?;

    // A state root with one run, as pikaci would leave it.
    let store = Store::open(dir.join("state"));
    let run = sample_run(&store)?;

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

fn sample_run(store: &Store) -> Result<RunId, Box<dyn std::error::Error>> {
    let now = SystemClock.now();
    let run_id = RunId::new_at(now);
    let job = "hello".parse()?;
    let record = RunRecord {
        run_id: run_id.clone(),
        status: RunStatus::Passed,
        rerun_of: None,
        target_id: None,
        target_description: None,
        source_root: "/src".into(),
        snapshot_dir: store.root().snapshot_dir(&run_id),
        git_head: None,
        git_dirty: None,
        created_at: now,
        finished_at: Some(now),
        changed_files: vec![],
        filters: vec![],
        message: Some("1 of 1 jobs passed".into()),
        failure_kind: None,
        planned_jobs: vec![],
        owner: None,
        jobs: vec![JobRecord {
            id: job,
            description: String::new(),
            status: RunStatus::Passed,
            executor: ExecutorKind::Host,
            timeout_secs: 60,
            host_log_path: store
                .root()
                .job_log(&run_id, &"hello".parse()?, LogFile::Host),
            guest_log_path: store
                .root()
                .job_log(&run_id, &"hello".parse()?, LogFile::Guest),
            started_at: now,
            finished_at: Some(now),
            exit_code: Some(0),
            message: None,
            failure_kind: None,
            remote_linux_vm_execution: None,
        }],
    };
    store.persist_run_record(&record)?;
    writeln!(
        store.open_job_log(&run_id, &record.jobs[0].id, LogFile::Guest)?,
        "hello from the job"
    )?;
    Ok(run_id)
}

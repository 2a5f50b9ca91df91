//! Run a small pipeline with the host executor from Rust and print the record.
//!
//! `cargo run -p pikaci-examples --example run_pipeline`
//!
//! The same thing `pikaci run` does, without the command line: parse a
//! pipeline, build an engine over a store, run, read the record and logs.

use std::sync::Arc;

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::{LogFile, Pipeline};
use pikaci_core::{
    engine::{CollectingObserver, Engine, HostExecutor, JobSelection, RunRequest},
    snapshot::SnapshotPolicy,
};
use pikaci_store::{LogRange, Store};

const PIPELINE: &str = r#"
[[job]]
id = "greet"
description = "say hello"
command = "echo hello from $PIKACI_JOB_ID in $PIKACI_RUN_ID"

[[job]]
id = "count"
command = "ls | wc -l"
needs = ["greet"]
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let dir = Utf8PathBuf::try_from(tmp.path().to_owned())?;
    let source = dir.join("repo");
    std::fs::create_dir_all(&source)?;
    std::fs::write(source.join("a.txt"), "a")?;
    std::fs::write(source.join("b.txt"), "b")?;

    let pipeline = Pipeline::parse(PIPELINE, Utf8Path::new("pikaci.toml"))?;
    let store = Store::open(dir.join("state"));
    let engine = Engine::builder(store.clone())
        .executor(Arc::new(HostExecutor::new()))
        .snapshot(SnapshotPolicy::Copy {
            exclude: None,
            keep: false,
            fallback: None,
        })
        .build();

    // The observer sees every lifecycle event as it happens.
    let events = CollectingObserver::default();
    let record = engine
        .run(
            RunRequest::new(JobSelection::all(&pipeline), &source),
            &events,
        )
        .await;

    println!(
        "run {} {}: {}",
        record.run_id,
        record.status,
        record.message.as_deref().unwrap_or("")
    );
    let run = store.run(&record.run_id)?;
    for job in &record.jobs {
        let log = run.job(Some(&job.id))?.log(LogFile::Guest);
        let text = log.read(LogRange::Whole)?.text;
        println!("  {} {} -> {}", job.id, job.status, text.trim());
    }
    println!("{} lifecycle events", events.events().len());
    println!("{}", serde_json::to_string_pretty(&record)?);
    Ok(())
}

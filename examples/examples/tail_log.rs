//! Follow a running job's log from another task, the way `pikaci logs --follow`
//! and the pika-news page do: read from the last offset until the job ends.
//!
//! `cargo run -p pikaci-examples --example tail_log`

use std::sync::Arc;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::engine::{Engine, HostExecutor, JobSelection, NoObserver, RunRequest};
use pikaci_core::{LogFile, Pipeline};
use pikaci_store::Store;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let dir = Utf8PathBuf::try_from(tmp.path().to_owned())?;
    let store = Store::open(dir.join("state"));
    let text = "[[job]]\nid = \"ticker\"\ncommand = \"for i in 1 2 3 4 5; do echo tick $i; sleep 0.2; done\"\n";
    let pipeline = Pipeline::parse(text, Utf8Path::new("pikaci.toml"))?;
    let engine = Engine::builder(store.clone())
        .executor(Arc::new(HostExecutor::new()))
        .build();

    // Run in the background.
    let running = tokio::spawn(async move {
        engine
            .run(
                RunRequest::new(JobSelection::all(&pipeline), dir),
                &NoObserver,
            )
            .await
    });

    // Wait for the run to appear, then follow its job's guest log.
    let run = loop {
        if let Some(id) = store.list_runs(None, 1)?.pop() {
            break id;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let job = "ticker".parse()?;
    let mut offset = 0;
    loop {
        let finished = store
            .load_run_record(&run)
            .map(|r| r.status.is_finished())
            .unwrap_or(false);
        if let Ok(bytes) = store.read_log_bytes(&run, &job, LogFile::Guest, offset, 64 * 1024) {
            offset += bytes.len() as u64;
            print!("{}", String::from_utf8_lossy(&bytes));
        }
        if finished {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let record = running.await?;
    println!("run {} {}", record.run_id, record.status);
    Ok(())
}

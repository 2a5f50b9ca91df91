//! Follow a running job's log from another task, the way `pikaci logs
//! --follow` and the pika-news page do: `JobLog::follow` reads what is new
//! from an offset until the job has finished and everything it wrote is out.
//!
//! `cargo run -p pikaci-examples --example tail_log`

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::engine::{Engine, HostExecutor, JobSelection, NoObserver, RunRequest};
use pikaci_core::{JobId, LogFile, Pipeline, SystemLiveness};
use pikaci_store::Store;

/// How often the follower looks for more output once it has caught up.
const POLL: Duration = Duration::from_millis(50);

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

    // Wait for the run and its record to appear, then take the job's guest log.
    let job: JobId = "ticker".parse()?;
    let log = loop {
        let found = store.list_runs(None, 1)?.pop().map(|run| {
            store
                .run(&run)
                .and_then(|run| run.job(Some(&job)))
                .map(|job| job.log(LogFile::Guest))
        });
        if let Some(Ok(log)) = found {
            break log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    // Follow it on a blocking thread: the closure is how it waits once caught
    // up (a test can write more instead of sleeping). Each chunk says the
    // offset after it, where a follower that stopped would resume.
    let follower = tokio::task::spawn_blocking(move || {
        let mut out = std::io::stdout();
        let mut offset = 0;
        for chunk in log
            .follow(0, Arc::new(SystemLiveness::new()))
            .blocking(|| std::thread::sleep(POLL))
        {
            let chunk = chunk?;
            out.write_all(&chunk.bytes)?;
            out.flush()?;
            offset = chunk.offset;
        }
        Ok::<u64, Box<dyn std::error::Error + Send + Sync>>(offset)
    });
    let offset = follower.await?.map_err(|e| e.to_string())?;
    let record = running.await?;
    println!(
        "read {offset} bytes; run {} {}",
        record.run_id, record.status
    );
    Ok(())
}

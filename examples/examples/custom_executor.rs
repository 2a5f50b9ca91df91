//! Plug your own executor into the engine.
//!
//! `cargo run -p pikaci-examples --example custom_executor`
//!
//! An executor runs one job and reports how it ended; the engine does the
//! rest (selection, ordering, records, logs, events). This one "runs" a job by
//! checking that its command is on an allow-list, writing what it decided to
//! the job's logs. Jobs choose it with `executor = "allowlist"`.

use std::sync::Arc;

use camino::Utf8Path;
use futures::future::BoxFuture;
use pikaci_core::engine::{
    Engine, Executor, JobContext, JobOutcome, JobSelection, NoObserver, RunRequest,
};
use pikaci_core::{ExecutorKind, FailureKind, Pipeline};
use pikaci_store::{MemFs, StateRoot, Store};

struct AllowList(Vec<&'static str>);

impl Executor for AllowList {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Other("allowlist".into())
    }

    fn execute<'a>(&'a self, ctx: JobContext<'a>) -> BoxFuture<'a, JobOutcome> {
        Box::pin(async move {
            let _ = writeln!(
                ctx.host_log,
                "allowlist executor checking {:?}",
                ctx.job.command
            );
            if self.0.contains(&ctx.job.command.as_str()) {
                let _ = writeln!(ctx.guest_log, "{} is allowed", ctx.job.command);
                JobOutcome::passed()
            } else {
                let _ = writeln!(ctx.guest_log, "{} is not on the list", ctx.job.command);
                JobOutcome::failed(FailureKind::TestFailure, Some(1), "command not allowed")
            }
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Parse the pipeline text, then point both jobs at the custom executor.
    let text = "[[job]]\nid = \"ok\"\ncommand = \"make test\"\n\n[[job]]\nid = \"nope\"\ncommand = \"rm -rf /\"\n";
    let mut pipeline = Pipeline::parse(text, Utf8Path::new("pikaci.toml"))?;
    for job in &mut pipeline.jobs {
        job.executor = ExecutorKind::Other("allowlist".into());
    }

    // An in-memory store: nothing touches the disk.
    let store = Store::with_fs(MemFs::new(), StateRoot::new("/state"));
    let engine = Engine::builder(store.clone())
        .executor(Arc::new(AllowList(vec!["make test"])))
        .build();
    let record = engine
        .run(
            RunRequest::new(JobSelection::all(&pipeline), "/src"),
            &NoObserver,
        )
        .await;

    for job in &record.jobs {
        println!(
            "{:<5} {:<7} {}",
            job.id,
            job.status,
            job.message.as_deref().unwrap_or("")
        );
    }
    println!(
        "run {}: {}",
        record.status,
        record.message.as_deref().unwrap_or("")
    );
    assert_eq!(store.load_run_record(&record.run_id)?, record);
    Ok(())
}

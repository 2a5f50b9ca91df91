//! Persist a run and its logs, then load them back: once in memory, once on disk.
//!
//! `cargo run -p pikaci-examples --example persist_and_load [STATE_ROOT]`
//!
//! The same `Store` API works over any `Fs`: `MemFs` for tests and embedding,
//! `DiskFs` (what `Store::open` uses) for a real state root.

use std::io::Write;

use camino::Utf8PathBuf;
use pikaci_core::{Clock, SystemClock};
use pikaci_core::{ExecutorKind, JobRecord, LogFile, RunId, RunRecord, RunStatus};
use pikaci_store::{Fs, LogRange, MemFs, StateRoot, Store};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // In memory: nothing touches the disk.
    let mem = Store::with_fs(MemFs::new(), StateRoot::new("/state"));
    let run = round_trip(&mem)?;
    println!("in memory: persisted and loaded run {run}");

    // On disk: a state root given on the command line, or a temporary one.
    let tmp = tempfile::tempdir()?;
    let root = match std::env::args().nth(1) {
        Some(dir) => Utf8PathBuf::from(dir),
        None => Utf8PathBuf::try_from(tmp.path().join("state"))?,
    };
    let disk = Store::open(&root);
    let run = round_trip(&disk)?;
    println!("on disk:   persisted and loaded run {run} under {root}");
    println!("           {}", disk.root().run_json(&run));
    Ok(())
}

/// Writes a finished one-job run with a guest log, reads it back and checks it.
fn round_trip<F: Fs + Clone>(store: &Store<F>) -> Result<RunId, Box<dyn std::error::Error>> {
    let now = SystemClock.now();
    let run_id = RunId::new_at(now);
    let job_id = "hello".parse()?;
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
        git_branch: None,
        created_at: now,
        finished_at: Some(now),
        changed_files: vec![],
        filters: vec![],
        message: Some("1 job passed".into()),
        failure_kind: None,
        cancel_reason: None,
        planned_jobs: vec![],
        job_needs: Default::default(),
        owner: None,
        snapshot_of: None,
        snapshot_warning: None,
        extra: Default::default(),
        jobs: vec![JobRecord {
            id: job_id,
            description: "say hello".into(),
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
            log_truncated: false,
            extra: Default::default(),
        }],
    };
    let job = &record.jobs[0].id;

    // Logs are streamed into the run folder while a job runs...
    let mut guest = store.open_job_log(&run_id, job, LogFile::Guest)?;
    writeln!(guest, "hello from the job")?;
    // ...and run.json is replaced atomically as the run progresses.
    store.persist_run_record(&record)?;

    // Reading goes through handles: the run (its folder checked once), a
    // job (the first one when none is named), one of its logs, a range.
    let run = store.run(&run_id)?;
    assert_eq!(run.record()?, record);
    let log = run.job(None)?.log(LogFile::Guest);
    assert_eq!(log.read(LogRange::Tail(1024))?.text, "hello from the job\n");
    assert_eq!(log.size()?, Some(19));
    assert_eq!(store.list_runs(None, 10)?.first(), Some(&run_id));
    Ok(run_id)
}

//! Persist, load, list and gc pikaci runs and their job logs.
//!
//! The state root layout (owned by [`StateRoot`], nowhere else):
//!
//! ```text
//! <state_root>/runs/<run_id>/run.json                   the RunRecord, replaced atomically
//! <state_root>/runs/<run_id>/prepared-outputs.json      what the run prepared (optional, the earlier pikaci's)
//! <state_root>/runs/<run_id>/jobs/<job_id>/host.log     pikaci's account of the job
//! <state_root>/runs/<run_id>/jobs/<job_id>/guest.log    the job's own output
//! <state_root>/runs/<run_id>/jobs/<job_id>/guest.log.ts when each write arrived (optional)
//! <state_root>/runs/<run_id>/jobs/<job_id>/artifacts/guest.log
//!                                                       the earlier pikaci's guest log, read when guest.log is absent
//! <state_root>/runs/<run_id>/snapshot.manifest          the kept snapshot: each file's bytes by hash
//! <state_root>/runs/<run_id>/snapshot/                  the source copy jobs run in (kept whole by earlier releases)
//! <state_root>/objects/<2 hex>/<62 hex>                 file contents, shared by the kept snapshots
//! <state_root>/.trash/                                  runs gc is deleting (moved out of runs/ first)
//! ```
//!
//! [`Store`] works over any [`Fs`]: [`DiskFs`] for real, [`MemFs`] for tests and
//! embedding. Log paths written inside `run.json` are never opened; every path
//! comes from validated ids and the layout, and symbolic links are never followed.
//!
//! Reading goes through handles, each checked once: [`Store::run`] gives a
//! [`RunDir`] (the record, the reconciled record, the logs' metadata, the
//! kept snapshot),
//! [`RunDir::job`] a [`JobDir`] (the default-job rule), [`JobDir::log`] a
//! [`JobLog`], read by [`LogRange`] ([`JobLog::read`]), whole
//! ([`JobLog::open`]) or as it grows ([`JobLog::follow`]), and when its bytes
//! arrived ([`JobLog::times`]).
//!
//! ```
//! use pikaci_core::{LogFile, RunRecord};
//! use pikaci_store::{LogRange, MemFs, StateRoot, Store};
//! use std::io::Write;
//!
//! let store = Store::with_fs(MemFs::new(), StateRoot::new("/state"));
//! let record = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
//! store.persist_run_record(&record)?;
//! let job = &record.jobs[0].id;
//! store.open_job_log(&record.run_id, job, LogFile::Guest)?.write_all(b"hello\nworld\n")?;
//!
//! let run = store.run(&record.run_id)?;
//! assert_eq!(run.record()?, record);
//! let guest = run.job(None)?.log(LogFile::Guest);
//! assert_eq!(guest.read(LogRange::Tail(6))?.text, "world\n");
//! assert_eq!(guest.size()?, Some(12));
//! assert_eq!(store.list_runs(None, 10)?, vec![record.run_id.clone()]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
#[cfg(test)]
mod fixtures;
mod fs;
mod gc;
mod layout;
mod list;
mod owner;
mod range;
mod read;
mod store;
#[cfg(feature = "test-helpers")]
pub mod testing;
mod usage;
mod write;

pub use error::StoreError;
pub use fs::{DiskFs, EntryKind, FileIdentity, FolderHold, Fs, MemFs, ReadAt, too_large};
pub use gc::{GcPolicy, GcReport, YOUNG_FOLDER};
pub use layout::{
    ARTIFACTS_DIR, JOBS_DIR, LogPlace, OBJECTS_DIR, PREPARED_OUTPUTS_JSON, RUN_JSON, RUNS_DIR,
    SNAPSHOT_DIR, SNAPSHOT_MANIFEST, StateRoot, TRASH_DIR,
};
pub use range::{LogRange, LogRangeError, MAX_READ_BYTES, utf8_boundary_skip};
pub use read::{
    Blocking, BoundedRecord, DEFAULT_FOLLOW_CHUNK, Follow, FollowChunk, FollowStep, JobDir, JobLog,
    LogChunk, LogReader, LogTimes, MAX_PREPARED_OUTPUTS_BYTES, MAX_RUN_JSON_BYTES, RunDir,
    TimesCursor, read_chunk_at,
};
pub use store::Store;
pub use usage::{RunUsage, Sweep, Usage};
pub use write::JobLogWriter;

//! Persist, load, list and gc pikaci runs and their job logs.
//!
//! The state root layout (owned by [`StateRoot`], nowhere else):
//!
//! ```text
//! <state_root>/runs/<run_id>/run.json                   the RunRecord, replaced atomically
//! <state_root>/runs/<run_id>/jobs/<job_id>/host.log     pikaci's account of the job
//! <state_root>/runs/<run_id>/jobs/<job_id>/guest.log    the job's own output
//! <state_root>/runs/<run_id>/snapshot/                  the source copy jobs run in
//! ```
//!
//! [`Store`] works over any [`Fs`]: [`DiskFs`] for real, [`MemFs`] for tests and
//! embedding. Log paths written inside `run.json` are never opened; every path
//! comes from validated ids and the layout, and symbolic links are never followed.
//!
//! ```
//! use pikaci_core::{LogFile, LogKind, RunRecord};
//! use pikaci_store::{LogRange, MemFs, StateRoot, Store};
//! use std::io::Write;
//!
//! let store = Store::with_fs(MemFs::new(), StateRoot::new("/state"));
//! let record = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
//! store.persist_run_record(&record)?;
//! let job = &record.jobs[0].id;
//! store.open_job_log(&record.run_id, job, LogFile::Guest)?.write_all(b"hello\nworld\n")?;
//!
//! assert_eq!(store.load_run_record(&record.run_id)?, record);
//! let logs = store.load_logs(&record.run_id, None, LogKind::Guest, LogRange::Tail(6))?;
//! assert_eq!(logs.guest.unwrap().text, "world\n");
//! assert_eq!(store.list_runs(None, 10)?, vec![record.run_id.clone()]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod fs;
mod gc;
mod interrupted;
mod layout;
mod list;
mod logs;
mod range;
mod store;

pub use error::StoreError;
pub use fs::{DiskFs, EntryKind, Fs, MemFs};
pub use gc::{GcPolicy, GcReport};
pub use layout::{JOBS_DIR, RUN_JSON, RUNS_DIR, SNAPSHOT_DIR, StateRoot, TRASH_DIR};
pub use logs::{JobLogWriter, LogChunk, RunLogs, read_chunk_at};
pub use range::{LogRange, MAX_READ_BYTES, plan_read, utf8_boundary_skip};
pub use store::{MAX_RUN_JSON_BYTES, Store};

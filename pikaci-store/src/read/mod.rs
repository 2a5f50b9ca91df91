//! Reading runs, one handle at a time: [`RunDir`] (a run folder, checked
//! once) → [`JobDir`] (a job, the default-job rule) → [`JobLog`] (one log) →
//! a [`LogChunk`] of a [`LogRange`](crate::LogRange), a [`LogReader`] for the
//! whole log, a [`Follow`] of it as it grows, or its [`LogTimes`] (when each
//! byte arrived); and a run's prepared outputs ([`RunDir::prepared_outputs`]).
//!
//! Each module builds on the ones before it and adds the way in to its own
//! handle (`Store::run`, `RunDir::job`, `JobDir::log`, `JobLog::follow`), so
//! no module imports one that imports it back.

mod chunk;
mod follow;
mod job_dir;
mod job_log;
mod prepared;
mod run_dir;
mod times;

pub use chunk::{LogChunk, read_chunk_at};
pub use follow::{Blocking, DEFAULT_FOLLOW_CHUNK, Follow, FollowChunk, FollowStep};
pub use job_dir::JobDir;
pub use job_log::{JobLog, LogReader};
pub use prepared::MAX_PREPARED_OUTPUTS_BYTES;
pub use run_dir::{BoundedRecord, MAX_RUN_JSON_BYTES, RunDir};
pub use times::{LogTimes, TimesCursor};

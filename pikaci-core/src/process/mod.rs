//! Host process control: a job's process group and how it is stopped
//! ([`supervise_with`]), the job supervisor and the exit-cleanup watcher
//! (pikaci started again as a helper), one cgroup per host job
//! ([`JobCgroups`]), and a job's log: the [`LogSink`] it is written to, its
//! cap ([`LogCap`], the one cutting rule) and the [`CappedSink`] that keeps
//! to it.
//!
//! Nothing here knows the engine: the engine's host executor builds on these.

mod capped;
pub mod exit_cleanup;
mod group;
pub(crate) mod job_cgroup;
mod log_cap;
mod log_sink;
mod pipe_copy;
pub mod supervisor;

pub use capped::CappedSink;
pub use group::{ChildEnd, KillAll, SUPERVISOR_MARGIN, Stop, supervise, supervise_with};
pub use job_cgroup::JobCgroups;
pub use log_cap::{LogCap, Written, truncation_marker};
pub use log_sink::{LogSink, VecSink};
pub(crate) use pipe_copy::{CopyReport, copy_pipe_to_file, grow_pipe};

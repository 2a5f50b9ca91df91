//! The Incus executor: runs a job's planned steps through a
//! [`crate::CommandRunner`], records phases and logs, and always deletes the
//! instance.

mod cleanup;
mod job;
mod recorder;
mod steps;

pub use job::IncusExecutor;

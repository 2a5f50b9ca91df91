//! The pipeline file, `pikaci.toml`: jobs, targets, and the `[incus]` table
//! kept for `pikaci-incus` (see [`ConfigSection`]).
//!
//! ```toml
//! [[job]]
//! id = "test"
//! description = "cargo test"
//! command = "cargo test --workspace"
//! timeout_secs = 1800
//!
//! [[target]]
//! id = "pre-merge"
//! jobs = ["test"]
//! paths = ["src/**", "Cargo.lock"]        # CI runs it when one of these changed
//! ci = { trigger = "branch" }             # on every branch head ("nightly", "none")
//!
//! [defaults]
//! max_log_bytes = "256MiB"
//! ```
//!
//! Parsing is pure: [`Pipeline::parse`] takes the text and the file name used in
//! errors, which name the file, the line and the key.

mod ci;
mod ci_lanes;
mod error;
mod model;
mod parse;

pub use ci::{CiSettings, CiTrigger, DEFAULT_NIGHTLY_TIME, NightlyTime, TargetCi};
pub use ci_lanes::{CiLane, CiLanes, Selection, path_matcher};
pub(crate) use error::SourceText;
pub use error::{ErrorSite, PipelineError};
pub use model::{DEFAULT_MAX_LOG_BYTES, DEFAULT_TIMEOUT_SECS, JobSpec, Pipeline, TargetSpec};

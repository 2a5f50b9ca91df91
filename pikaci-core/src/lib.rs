//! The pikaci model and run engine.
//!
//! - Ids: [`RunId`], [`JobId`], [`TargetId`], validated on parse and on deserialize;
//!   [`IdDating`], the one rule for the time a run id carries ([`RunId::date`]).
//! - Records: [`RunRecord`] and [`JobRecord`], the shape of `run.json`; what a
//!   rerun runs ([`RunRecord::rerun_jobs`] by [`RerunScope`], in the snapshot
//!   of [`RunRecord::snapshot_owner`]).
//!   [`PreparedOutputs`], the shape of `prepared-outputs.json`.
//! - Vocabulary: [`RunStatus`], [`FailureKind`], [`LogKind`], [`ExecutorKind`].
//! - Events: [`LifecycleEvent`], printed as JSONL by `pikaci run --output jsonl`.
//! - Owners: a running record names its [`RunOwner`] (pid, host, start
//!   time); [`Liveness`] ([`SystemLiveness`], reading [`ProcStat`]) says
//!   whether it is still there ([`OwnerState`]).
//! - Logs: [`RunLogsMetadata`], where each job's logs are and their sizes.
//! - The pipeline file: [`Pipeline`], parsed from `pikaci.toml`; tables other
//!   crates own (`[incus]`) are kept as a [`ConfigSection`]; the lanes a
//!   forge's CI makes of its targets ([`CiLanes`], chosen by changed files
//!   with [`CiLanes::select`]).
//! - The engine: [`engine::Engine`] runs a [`engine::RunRequest`] through the
//!   seams [`engine::Executor`], [`engine::RunStore`], [`Clock`] and
//!   [`snapshot::Snapshotter`]; host jobs run under [`process`]'s control
//!   (their process group, supervisor, cgroup and capped log), in a source
//!   copy made by [`snapshot`].
//! - The contract with programs that run `pikaci`: [`contract`] (exit codes,
//!   `PIKACI_STATE_ROOT`, the JSONL run command line, shell quoting).
//! - [`TomlLocation`]: the line, column and key a TOML error points at;
//!   [`did_you_mean`]: the hint for a mistyped key or id.
//! - [`escape_controls`]: record texts made safe for a terminal.
//! - [`log_times`]: the per-write timestamp sidecar beside a log (its
//!   format, and [`log_times::Arrivals`], its writer).
//!
//! ```
//! use pikaci_core::{RunId, RunRecord};
//!
//! let id: RunId = "20260324T161238Z-1a2b3c4d".parse()?;
//! assert!("../etc".parse::<RunId>().is_err());
//! let json = r#"{"run_id":"20260324T161238Z-1a2b3c4d","status":"passed",
//!   "source_root":"/src","snapshot_dir":"/snap","created_at":"2026-03-24T16:12:38+00:00",
//!   "changed_files":[],"filters":[],"jobs":[],"plan_path":null}"#;
//! let record: RunRecord = serde_json::from_str(json)?;
//! assert_eq!(record.run_id, id);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod cgroup;
mod clock;
pub mod contract;
pub mod engine;
mod escape;
mod event;
#[cfg(any(test, feature = "test-helpers"))]
pub mod hostile;
mod id_date;
mod ids;
mod liveness;
pub mod log_times;
mod logs;
mod pipeline;
mod proc_stat;
pub mod process;
mod record;
mod section;
#[cfg(any(test, feature = "test-helpers"))]
pub mod signal_probe;
pub mod snapshot;
mod status;
mod suggest;
mod toml_span;

pub use clock::{Clock, SystemClock};
pub use escape::escape_controls;
pub use event::LifecycleEvent;
pub use id_date::{FUTURE_TOLERANCE, IdDate, IdDating};
pub use ids::{IdError, JobId, MAX_ID_LEN, RunId, TargetId, validate_id};
pub use liveness::{Liveness, LockProbe, OwnerState, ProcessProbe, SystemLiveness, this_host_name};
pub use logs::{JobLogMetadata, RunLogsMetadata};
pub use pipeline::{
    CiLane, CiLanes, CiSettings, CiTrigger, DEFAULT_MAX_LOG_BYTES, DEFAULT_NIGHTLY_TIME,
    DEFAULT_TIMEOUT_SECS, ErrorSite, JobSpec, NightlyTime, Pipeline, PipelineError, Selection,
    TargetCi, TargetSpec, path_matcher,
};
pub use proc_stat::ProcStat;
pub use record::{
    Extra, JobReader, JobRecord, PreparedOutput, PreparedOutputs, RemoteVmExecution, RerunScope,
    RunOwner, RunRecord, VmPhase,
};
pub use section::ConfigSection;
pub use status::{ExecutorKind, FailureKind, LogFile, LogKind, ParseLogKindError, RunStatus};
pub use suggest::did_you_mean;
pub use toml_span::TomlLocation;

//! Run pikaci jobs in Incus virtual machines or system containers, on this
//! machine or on a remote Incus server.
//!
//! - [`IncusConfig`]: `[incus]` of `pikaci.toml`, read from the table the
//!   pipeline keeps; [`IncusSettings`]: that plus environment overrides and
//!   defaults ([`InstanceType`], [`Transfer`]: mounts here, pushes to a remote).
//! - [`plan`]: pure builders of every Incus command ([`IncusCommand`]s as data)
//!   and [`plan_job`], what `pikaci incus plan` prints.
//! - [`CommandRunner`]: the process seam ([`ProcessRunner`], [`RecordingRunner`]).
//! - [`IncusExecutor`]: the engine's `Executor` for `executor = "incus"`.
//! - [`hint`]: what an Incus error means and how to fix it; [`doctor`]: the
//!   checks of `pikaci incus doctor`.
//! - [`gc_instances`]: deletes leftover instances.
//! - [`guest`]: the contract and code of the `pikaci-incus-run` guest binary.
//!
//! ```
//! use pikaci_incus::{IncusSettings, InstanceName, InstanceType, Planner};
//!
//! let settings = IncusSettings::builder()
//!     .instance_type(InstanceType::Container)
//!     .remote("ci-incus")
//!     .build();
//! let name = InstanceName::parse("pikaci-demo")?;
//! let start = Planner::new(&settings, &name).start();
//! assert_eq!(
//!     start.display(),
//!     "incus start --project pika-managed-agents ci-incus:pikaci-demo"
//! );
//! # Ok::<(), pikaci_incus::IncusError>(())
//! ```

mod command;
mod config;
mod doctor;
mod error;
mod executor;
mod gc;
pub mod guest;
pub mod hint;
mod name;
pub mod plan;
mod runner;
mod settings;

pub use command::{IncusCommand, Stdin};
pub use config::{IncusConfig, InstanceType, ParseInstanceTypeError};
pub use doctor::{Check, CheckStatus, DoctorReport, doctor};
pub use error::IncusError;
pub use executor::IncusExecutor;
pub use gc::{GcInstancesReport, gc_instances};
pub use name::{InstanceName, MAX_INSTANCE_NAME_LEN};
pub use plan::{JobPlan, Phase, PlannedStep, Planner, plan_job};
pub use runner::{
    CallKind, CommandOutput, CommandRunner, FakeReply, ProcessRunner, RecordedCall,
    RecordingRunner, StreamOutput,
};
pub use settings::{
    DEFAULT_COMMAND_TIMEOUT, DEFAULT_CPU, DEFAULT_IMAGE_ALIAS, DEFAULT_INSTANCE_PREFIX,
    DEFAULT_MEMORY, DEFAULT_PROFILE, DEFAULT_PROJECT, DEFAULT_READINESS_TIMEOUT,
    DEFAULT_STORAGE_POOL, ENV_PREFIX, IncusSettings, IncusSettingsBuilder, MAX_PREFIX_LEN,
    Transfer,
};

//! What a reader learns about a run's logs without reading them.

use camino::Utf8PathBuf;
use serde::{Deserialize, Serialize};

use crate::ids::{JobId, RunId};
use crate::status::RunStatus;

/// `RunLogsMetadata`: each job's log locations, whether they exist and their sizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunLogsMetadata {
    /// The run.
    pub run_id: RunId,
    /// The run's status.
    pub status: RunStatus,
    /// One entry per job in the record.
    pub jobs: Vec<JobLogMetadata>,
}

/// Log facts for one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobLogMetadata {
    /// The job.
    pub id: JobId,
    /// Where `host.log` lives in the state-root layout.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub host_log_path: Utf8PathBuf,
    /// Where `guest.log` lives in the state-root layout.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub guest_log_path: Utf8PathBuf,
    /// Whether `host.log` exists.
    pub host_log_exists: bool,
    /// Whether `guest.log` exists.
    pub guest_log_exists: bool,
    /// `host.log`'s size in bytes (absent when it does not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_log_size: Option<u64>,
    /// `guest.log`'s size in bytes (absent when it does not exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest_log_size: Option<u64>,
}

//! Lanes: the manifest, git operations on the canonical repository, and the
//! runner that executes one lane in a worktree.

pub mod git;
pub mod manifest;
pub mod runner;

use camino::{Utf8Path, Utf8PathBuf};

/// Where a lane run's own log lives under the service's data folder. Only
/// this function builds the path, from the lane run's numeric id.
pub fn lane_log_path(data_dir: &Utf8Path, lane_run_id: i64) -> Utf8PathBuf {
    data_dir
        .join("lane-logs")
        .join(format!("{lane_run_id}.log"))
}

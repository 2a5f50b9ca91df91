//! [`DataDir`]: the service's data folder, and the one place its layout is known.
//!
//! ```text
//! <data_dir>/lane-logs/<lane_run_id>.log          a lane run's own log
//! <data_dir>/lane-logs/<lane_run_id>.jsonl        a pikaci lane's raw events
//! <data_dir>/worktrees/lane-<lane_run_id>-<fence>  a running lane's git worktree
//! <data_dir>/lane-homes/lane-<lane_run_id>-<fence> a running lane's HOME (its TMPDIR in tmp/)
//! ```
//!
//! Every path is built from typed numbers only, so nothing a client or a
//! branch sends can name a file here.

use camino::{Utf8Path, Utf8PathBuf};

use crate::db::LaneRunId;

/// The folder of lane logs.
const LANE_LOGS: &str = "lane-logs";
/// The folder of lane worktrees.
const WORKTREES: &str = "worktrees";
/// The folder of lanes' homes.
const LANE_HOMES: &str = "lane-homes";

/// The service's data folder (`data_dir` in `pika-news.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: Utf8PathBuf,
}

impl DataDir {
    /// The data folder at `root` (made when first written to).
    pub fn new(root: impl Into<Utf8PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The folder itself.
    pub fn root(&self) -> &Utf8Path {
        &self.root
    }

    /// The folder of lane logs.
    pub fn lane_logs(&self) -> Utf8PathBuf {
        self.root.join(LANE_LOGS)
    }

    /// A lane run's own log: what pika-news ran, the lane's output, and how it ended.
    pub fn lane_log(&self, lane: LaneRunId) -> Utf8PathBuf {
        self.lane_logs().join(format!("{lane}.log"))
    }

    /// A pikaci lane run's raw JSONL events, as pikaci printed them (its log
    /// shows them as readable `[pikaci] ...` lines).
    pub fn lane_events(&self, lane: LaneRunId) -> Utf8PathBuf {
        self.root.join(LANE_LOGS).join(format!("{lane}.jsonl"))
    }

    /// The folder every lane worktree is made in.
    pub fn worktrees(&self) -> Utf8PathBuf {
        self.root.join(WORKTREES)
    }

    /// The worktree of one claim of a lane run (a new claim, with a new fencing
    /// token, gets a new folder, so a late runner never shares one).
    pub fn worktree(&self, lane: LaneRunId, fencing_token: i64) -> Utf8PathBuf {
        self.worktrees()
            .join(format!("lane-{lane}-{fencing_token}"))
    }
}

impl DataDir {
    /// The folder every lane's `HOME` is made in.
    pub fn lane_homes(&self) -> Utf8PathBuf {
        self.root.join(LANE_HOMES)
    }

    /// The fresh `HOME` of one claim of a lane run, removed with the lane.
    pub fn lane_home(&self, lane: LaneRunId, fencing_token: i64) -> Utf8PathBuf {
        self.lane_homes()
            .join(format!("lane-{lane}-{fencing_token}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout() {
        let d = DataDir::new("/srv/pn");
        let lane = LaneRunId::new(42).expect("positive");
        assert_eq!(d.lane_log(lane), "/srv/pn/lane-logs/42.log");
        assert_eq!(d.lane_events(lane), "/srv/pn/lane-logs/42.jsonl");
        assert_eq!(d.worktrees(), "/srv/pn/worktrees");
        assert_eq!(d.worktree(lane, 3), "/srv/pn/worktrees/lane-42-3");
        assert_eq!(d.root(), "/srv/pn");
        assert_eq!(d.lane_home(lane, 3), "/srv/pn/lane-homes/lane-42-3");
    }
}

//! Lanes: where a head's lanes come from (`lane_source`), the manifest, git
//! operations on the canonical repository, the
//! runner that executes one lane in a worktree (and checks the run it names,
//! `run_claim`; its output is copied and its events vetted by
//! `lane_output`), and how pikaci's events read
//! in a lane log (`events_log`). Where lane logs and worktrees
//! live is [`DataDir`](crate::data_dir::DataDir)'s business.

pub mod cgroup;
pub mod events_log;
pub mod git;
mod lane_output;
pub mod lane_source;
mod lane_spec;
mod launch;
pub mod limits;
pub mod manifest;
pub mod manifest_check;
pub mod run_claim;
pub mod runner;

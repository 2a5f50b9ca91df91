//! Lanes: the manifest, git operations on the canonical repository, and the
//! runner that executes one lane in a worktree. Where lane logs and worktrees
//! live is [`DataDir`](crate::DataDir)'s business.

pub mod git;
pub mod manifest;
pub mod runner;

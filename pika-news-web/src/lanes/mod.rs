//! Lanes: the manifest, git operations on the canonical repository, and the
//! runner that executes one lane in a worktree.

pub mod git;
pub mod manifest;
pub mod runner;

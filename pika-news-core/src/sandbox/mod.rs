//! The lane sandbox on the host: each lane runs as a uid of its own
//! (`[lanes] uid_range`) or every lane as one unprivileged user (`[lanes]
//! run_as_user`) ([`LaneAccounts`], [`LaneUser`]), with a clean environment
//! and a fresh home, and cannot read or write the service's own files.
//!
//! - [`settings`]: `[lanes]` of `pika-news.toml` ([`LaneSettings`]).
//! - [`user`]: the lane user, looked up once, and how a lane's command is
//!   switched to it.
//! - [`accounts`]: who each lane runs as: the one `run_as_user`, or a uid of
//!   its own from `uid_range` ([`LaneAccounts`]).
//! - [`files`]: the modes of the service's files, the state root handed to
//!   the lane user, a worktree handed over before a lane and removed after it.
//! - [`tree`]: giving a folder tree to another owner through file
//!   descriptors only ([`give_tree`]).
//! - [`search_path`]: finding a program on a `PATH` ([`which`]).
//!
//! What it protects and what not is in `docs/security.md`.

pub mod accounts;
pub mod files;
pub mod search_path;
pub mod settings;
pub mod tree;
pub mod user;

pub use accounts::{LaneAccount, LaneAccounts};
pub use files::{check_private_file, hand_over, prepare_service_files, remove_worktree_as};
pub use search_path::{DEFAULT_LANE_PATH, PathDirs, which, which_as};
pub use settings::LaneSettings;
pub use tree::{Owner, give_tree};
pub use user::{Confinement, LaneUser, SandboxError};

//! Merging and closing a branch of the canonical bare repository, and the
//! hooks that keep pushes off its default branch.
//!
//! - [`BareRepo`]: `git` run on the bare repository alone (no worktree),
//!   with an environment that cannot point it elsewhere.
//! - [`merge_branch`]: a real merge commit of a branch head into the default
//!   branch (`git merge-tree --write-tree`, `git commit-tree`), published with
//!   both refs moved in one `git update-ref --stdin` transaction whose old
//!   values are checked; [`close_branch`] deletes a branch ref the same way.
//! - [`MergePolicy`]: which heads the server merges ([`CiVerdict`]), and for
//!   whom.
//! - [`install_hooks`]: the `update` hook (no direct push to the default
//!   branch) and the `post-receive` hook (writes [`WAKE_FILE`], which
//!   [`WakeWatch`] turns into a scheduler wake-up).

mod bare;
mod commit;
mod error;
mod hooks;
mod merge;
mod policy;
#[cfg(test)]
mod tests;
mod wake;

pub use bare::{BareRepo, valid_branch_name};
pub use commit::CommitId;
pub use error::ForgeError;
pub use hooks::{InstalledHooks, install_hooks};
pub use merge::{
    MergeOutcome, MergeRequest, close_branch, close_branch_observed, merge_branch,
    merge_branch_observed,
};
pub use policy::{CiVerdict, MergePolicy, Refusal};
pub use wake::{WAKE_FILE, WakeWatch};

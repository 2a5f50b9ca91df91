//! What can go wrong merging or closing a branch.

/// A merge or close that did not happen. Every variant but [`Git`](Self::Git)
/// and [`Spawn`](Self::Spawn) leaves the repository exactly as it was and
/// is the caller's to fix (a 409 over HTTP); messages name no server path.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// The branch's ref no longer points where it was read (or is gone).
    #[error("branch `{branch}` moved: expected {expected}, found {}", found.as_ref().map_or("no ref", |c| c.as_str()))]
    HeadMoved {
        /// The branch.
        branch: String,
        /// The head the caller expected.
        expected: super::commit::CommitId,
        /// Where the ref is now (`None`: deleted).
        found: Option<super::commit::CommitId>,
    },
    /// The default branch does not exist.
    #[error("the default branch `{0}` does not exist")]
    NoDefaultBranch(String),
    /// The branch and the default branch change the same lines.
    #[error("merging `{branch}` into `{into}` conflicts in: {}", paths.join(", "))]
    Conflict {
        /// The branch.
        branch: String,
        /// The default branch.
        into: String,
        /// The conflicting paths.
        paths: Vec<String>,
    },
    /// The ref transaction was refused: a ref moved between reading and
    /// publishing (a concurrent push). Nothing was changed.
    #[error("`{branch}` or `{into}` moved while merging; nothing was changed, try again")]
    Raced {
        /// The branch.
        branch: String,
        /// The default branch.
        into: String,
    },
    /// A branch name git or the ref transaction could not take safely.
    #[error("invalid branch name {0:?}")]
    InvalidName(String),
    /// A hook (or its folder) could not be written.
    #[error("could not write {hook}")]
    Hook {
        /// Which hook or folder.
        hook: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// git could not be started.
    #[error("could not run git")]
    Spawn(#[source] std::io::Error),
    /// git failed in a way that is not the caller's to fix.
    #[error("`git {command}` failed: {stderr}")]
    Git {
        /// The subcommand.
        command: &'static str,
        /// What git said (trimmed, at most 2000 bytes).
        stderr: String,
    },
}

impl ForgeError {
    /// Whether the caller can fix this (the repository is unchanged): a
    /// moved head, a conflict, a race, a missing default branch or a bad name.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Self::HeadMoved { .. }
                | Self::NoDefaultBranch(_)
                | Self::Conflict { .. }
                | Self::Raced { .. }
        )
    }
}

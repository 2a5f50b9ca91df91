//! Merging and closing a branch through the server, without HTTP: the
//! branch row and its CI decide ([`MergePolicy`]), pika-news-core's forge
//! functions change the repository, and the branch's end is recorded.
//!
//! The order makes a failure harmless: the repository changes in one
//! checked ref transaction or not at all, and only then is the row marked;
//! if marking fails, the next poll closes the branch whose ref is gone.

use std::sync::Arc;

use crate::forge::{BareRepo, CiVerdict, CommitId, ForgeError, MergePolicy, MergeRequest, Refusal};

use crate::db::{BranchEnd, BranchId, BranchState, Db, DbError, SuiteStatus};

/// The canonical repository as merges see it.
#[derive(Debug, Clone)]
pub struct Forge {
    repo: BareRepo,
    default_branch: String,
    policy: MergePolicy,
    /// One merge or close at a time: two merges would race each other's
    /// ref transaction and one would be refused for nothing.
    lock: Arc<tokio::sync::Mutex<()>>,
}

/// Who asks.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Shown in the merge commit's message (the token's npub or name).
    pub name: String,
    /// Whether the caller has the admin role.
    pub is_admin: bool,
}

/// Why a merge or close did not happen. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum BranchActionError {
    /// No such branch.
    #[error("branch {0} not found")]
    NotFound(BranchId),
    /// The branch is not open.
    #[error("branch {id} is {state}: only open branches can be {verb}")]
    NotOpen {
        /// The branch.
        id: BranchId,
        /// Its state.
        state: BranchState,
        /// `merged` or `closed`.
        verb: &'static str,
    },
    /// The default branch itself was named.
    #[error("`{0}` is the default branch: it cannot be merged or closed")]
    DefaultBranch(String),
    /// The repository has moved on since the server last looked.
    #[error(
        "branch `{name}` is at {found} but pika-news last saw {seen}; wait for the poller to see the new head and its CI"
    )]
    Unseen {
        /// The branch.
        name: String,
        /// Where the ref is.
        found: String,
        /// The head recorded.
        seen: String,
    },
    /// The merge policy refuses this head for this caller.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The repository refused (conflict, moved head, race) or failed.
    #[error(transparent)]
    Forge(#[from] ForgeError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The blocking task running git failed.
    #[error("a git task failed: {0}")]
    Task(String),
}

impl Forge {
    /// The repository at `git_dir`, merging into `default_branch` under `policy`.
    pub fn new(
        git_dir: impl Into<std::path::PathBuf>,
        default_branch: &str,
        policy: MergePolicy,
    ) -> Self {
        Self {
            repo: BareRepo::new(git_dir),
            default_branch: default_branch.to_owned(),
            policy,
            lock: Arc::default(),
        }
    }

    /// The merge policy.
    pub fn policy(&self) -> MergePolicy {
        self.policy
    }

    /// The open branch `id`, its name and its head now (which must be the head recorded).
    async fn open_branch(
        &self,
        db: &Db,
        id: BranchId,
        verb: &'static str,
    ) -> Result<(String, CommitId), BranchActionError> {
        let branch = db
            .branch(id)
            .await?
            .ok_or(BranchActionError::NotFound(id))?;
        if branch.state != BranchState::Open {
            return Err(BranchActionError::NotOpen {
                id,
                state: branch.state,
                verb,
            });
        }
        if branch.name == self.default_branch {
            return Err(BranchActionError::DefaultBranch(branch.name));
        }
        let (repo, name) = (self.repo.clone(), branch.name.clone());
        let found = blocking(move || repo.branch_head(&name)).await??;
        let seen = branch.head.unwrap_or_default();
        match found {
            Some(head) if head.as_str() == seen => Ok((branch.name, head)),
            found => Err(BranchActionError::Unseen {
                name: branch.name,
                found: found.map_or_else(|| "no ref".to_owned(), |c| c.to_string()),
                seen,
            }),
        }
    }

    /// Merges branch `id` into the default branch; returns the merge commit.
    pub async fn merge(
        &self,
        db: &Db,
        id: BranchId,
        actor: &Actor,
    ) -> Result<CommitId, BranchActionError> {
        let _one = self.lock.lock().await;
        let (name, head) = self.open_branch(db, id, "merged").await?;
        let verdict = match db.suites(id).await?.into_iter().next() {
            None => CiVerdict::NoSuite,
            Some(s) if s.head != head.as_str() => CiVerdict::Stale {
                suite_head: s.head,
                head: head.to_string(),
            },
            Some(s) if s.status == SuiteStatus::Passed => CiVerdict::Green,
            Some(s) => CiVerdict::NotPassed {
                status: s.status.to_string(),
            },
        };
        self.policy.check(&verdict, actor.is_admin)?;
        let (repo, default_branch, by) = (
            self.repo.clone(),
            self.default_branch.clone(),
            actor.name.clone(),
        );
        let merged = blocking(move || {
            crate::forge::merge_branch(
                &repo,
                &MergeRequest {
                    branch: &name,
                    expected_head: &head,
                    default_branch: &default_branch,
                    merged_by: &by,
                },
            )
        })
        .await??;
        db.end_branch(
            id,
            BranchEnd::Merged {
                commit: merged.merge_commit.to_string(),
            },
        )
        .await?;
        Ok(merged.merge_commit)
    }

    /// Closes branch `id`: deletes its ref (if still at the recorded head).
    pub async fn close(&self, db: &Db, id: BranchId) -> Result<(), BranchActionError> {
        let _one = self.lock.lock().await;
        let (name, head) = self.open_branch(db, id, "closed").await?;
        let repo = self.repo.clone();
        blocking(move || crate::forge::close_branch(&repo, &name, &head)).await??;
        db.end_branch(id, BranchEnd::Closed).await?;
        Ok(())
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, BranchActionError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BranchActionError::Task(e.to_string()))
}

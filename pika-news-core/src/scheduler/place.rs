//! A lane's place on the host: the account it runs as, its worktree and its
//! fresh `HOME`, made before it runs and cleared after it: every process of
//! its uid stopped, its folders removed (first as that uid), the run it made
//! given to the service so no later lane can change it, and the uid returned.

use camino::Utf8PathBuf;
use pikaci_core::RunId;

use super::Scheduler;
use crate::db::LaneRunId;
use crate::lanes::git::{CommitId, GitError};
use crate::sandbox::{self, LaneAccount, LaneUser};

/// Where one lane runs, and as whom.
#[derive(Debug)]
pub(super) struct LanePlace {
    account: Option<LaneAccount>,
    pub(super) worktree: Utf8PathBuf,
    pub(super) home: Utf8PathBuf,
}

impl LanePlace {
    /// The user the lane runs as (`None`: the service).
    pub(super) fn user(&self) -> Option<&LaneUser> {
        self.account.as_ref().map(LaneAccount::user)
    }
}

impl Scheduler {
    /// Takes an account for the lane, checks `head` out in a fresh worktree
    /// handed to it and makes its `HOME`. On failure, what was made is
    /// cleared again and the message says why.
    pub(super) async fn make_place(
        &self,
        lane: LaneRunId,
        fence: i64,
        head: &CommitId,
    ) -> Result<LanePlace, String> {
        let account = match &self.accounts {
            Some(accounts) => Some(
                accounts
                    .take()
                    .map_err(|e| format!("no account to run the lane as: {e}"))?,
            ),
            None => None,
        };
        let place = LanePlace {
            account,
            worktree: self.repo.data_dir.worktree(lane, fence),
            home: self.repo.data_dir.lane_home(lane, fence),
        };
        let user = place.user().cloned();
        let (folder, dest, home, commit) = (
            self.repo.data_dir.worktrees(),
            place.worktree.clone(),
            place.home.clone(),
            head.clone(),
        );
        let made = self
            .git
            .call(move |git| {
                std::fs::create_dir_all(&folder).map_err(GitError::WorktreesFolder)?;
                git.add_worktree(&commit, &dest)?;
                if let Some(user) = &user {
                    sandbox::hand_over(&dest, user).map_err(GitError::HandOver)?;
                }
                sandbox::files::make_lane_home(&home, user.as_ref()).map_err(GitError::LaneHome)
            })
            .await;
        match made {
            Ok(()) => Ok(place),
            Err(e) => {
                self.clear_place(place, None).await;
                Err(format!("could not check out {}: {e}", head.as_str()))
            }
        }
    }

    /// Clears a lane's place once the lane ended: stops every process left
    /// of its uid, removes its worktree and home, gives `run` (the run it
    /// made, checked) to the service, and returns the uid to the pool.
    /// Failures are logged.
    pub(super) async fn clear_place(&self, place: LanePlace, run: Option<RunId>) {
        let state_root = self.repo.pikaci_state_root.clone();
        let cleared = self
            .git
            .call(move |git| {
                let mut place = place;
                if let Some(account) = &mut place.account {
                    account.end_processes();
                }
                // Each step is tried whatever the one before did.
                let mut first_error = None;
                let mut keep = |r: Result<(), GitError>| {
                    if let Err(e) = r {
                        tracing::warn!(error = %e, "clearing a lane's place");
                        first_error.get_or_insert(e);
                    }
                };
                if let Some(user) = place.user() {
                    for dir in [&place.worktree, &place.home] {
                        keep(sandbox::remove_worktree_as(dir, user).map_err(GitError::RemoveWorktree));
                    }
                    if let Some(run) = &run
                        && let Err(e) = sandbox::files::seal_run(&state_root, run)
                    {
                        tracing::warn!(%run, error = %e, "could not give a lane's finished run to the service");
                    }
                }
                if std::fs::symlink_metadata(&place.home).is_ok() {
                    keep(std::fs::remove_dir_all(&place.home).map_err(GitError::RemoveWorktree));
                }
                keep(git.remove_worktree(&place.worktree));
                first_error.map_or(Ok(()), Err)
            })
            .await;
        if let Err(e) = cleared {
            tracing::warn!(error = %e, "could not remove a lane worktree");
        }
    }
}

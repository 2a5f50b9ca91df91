//! The scheduler: notices branch heads, queues suites and lanes, queues the
//! nightly run when it is due, claims lanes with a lease, runs them, and
//! recovers lanes whose runner died.

mod nightly;
pub mod owner;
mod place;
pub mod recovery;
mod sync;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use pikaci_core::FailureKind;
use pikaci_core::process::supervisor::JobSupervisor;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::ForgeRepo;
use crate::db::{Claim, Db, DbError, LaneRunId, LaneStatus};
use crate::lanes::cgroup::{LaneCgroupRequest, LaneCgroups};
use crate::lanes::git::{CommitId, Git, GitError};
use crate::lanes::manifest::LaneCommand;
use crate::lanes::runner::{LaneEvent, LaneRunSpec, run_lane};
use crate::sandbox::{self, Confinement, LaneAccounts, LaneUser};
use owner::LaneOwner;

use nightly::schedule_listed_nightly;
pub use nightly::{NightlyCheck, schedule_due_nightly, slot_of};
use sync::sync_listed_heads;
pub use sync::{SyncReport, sync_heads};

/// How long a claim lasts without a heartbeat, unless `[lanes] lease_secs` says otherwise.
pub const LEASE_SECS: u64 = crate::sandbox::settings::DEFAULT_LEASE_SECS;
/// How many times a lane is claimed before a dying runner fails it.
pub const MAX_ATTEMPTS: i64 = 3;
pub use crate::lanes::limits::LANE_KILL_GRACE;

/// Runs CI for one forge repository.
///
/// Times it stores come from the [`Db`]'s clock; its timers (the poll
/// interval, heartbeats, lane timeouts) are tokio's, so tests pause and
/// advance them.
#[derive(Clone)]
pub struct Scheduler {
    db: Db,
    git: Git,
    repo: ForgeRepo,
    owner: LaneOwner,
    env: BTreeMap<String, String>,
    wake: Arc<Notify>,
    kill_grace: Duration,
    lease_secs: u64,
    confinement: Confinement,
    /// Each lane's own cgroup, where the machine allows (`None`: none).
    cgroups: Option<LaneCgroups>,
    /// Who lanes run as (`None`: as the service).
    accounts: Option<Arc<LaneAccounts>>,
    /// The lanes this scheduler is running, each with the token that stops it.
    running: Arc<std::sync::Mutex<BTreeMap<LaneRunId, CancellationToken>>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("repo", &self.repo.repo)
            .field("owner", &self.owner.to_string())
            .finish_non_exhaustive()
    }
}

/// A scheduler failure that stops one tick (the next tick tries again).
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// git failed.
    #[error(transparent)]
    Git(#[from] crate::lanes::git::GitError),
}

impl Scheduler {
    /// A scheduler for `repo`; `env` is the environment lanes' children are
    /// filtered from (passed in: the library never reads the process env).
    /// Lanes run as the service until [`Scheduler::run_as`] says otherwise;
    /// `setpriv` is looked up on `env`'s `PATH`.
    pub fn new(db: Db, repo: ForgeRepo, env: BTreeMap<String, String>) -> Self {
        let owner = LaneOwner::current(pikaci_core::this_host_name());
        let setpriv = Confinement::find_setpriv(env.get("PATH").map(String::as_str));
        if setpriv.is_none() {
            tracing::warn!(
                "setpriv (util-linux) was not found on PATH: lanes will not be stopped if the server is killed"
            );
        }
        // The database's handles (the server's reads among them) give
        // queued lanes' reasons by the limit this scheduler claims under.
        db.set_lane_slots(repo.ci_concurrency);
        Self {
            git: Git::new(repo.canonical_git_dir.clone()),
            db,
            repo,
            owner,
            env,
            wake: Arc::new(Notify::new()),
            kill_grace: LANE_KILL_GRACE,
            lease_secs: LEASE_SECS,
            confinement: Confinement {
                user: None,
                setpriv,
                supervisor: None,
                lane_path: None,
            },
            cgroups: None,
            accounts: None,
            running: Arc::default(),
        }
    }

    /// The same scheduler, running every lane as `user` (`None`: as the service).
    pub fn run_as(self, user: Option<LaneUser>) -> Self {
        self.lane_accounts(user.map(|u| Arc::new(LaneAccounts::Shared(u))))
    }

    /// The same scheduler, running each lane as an account of `accounts`
    /// (`None`: as the service).
    pub fn lane_accounts(mut self, accounts: Option<Arc<LaneAccounts>>) -> Self {
        self.accounts = accounts;
        self
    }

    /// The same scheduler, running argv lanes under `supervisor` (`None`:
    /// in their process group only).
    pub fn supervise_lanes(mut self, supervisor: Option<JobSupervisor>) -> Self {
        self.confinement.supervisor = supervisor;
        self
    }

    /// The same scheduler, running each lane in a cgroup of its own made
    /// from `cgroups` (`None`: in its process group and supervisor only).
    pub fn lane_cgroups(mut self, cgroups: Option<LaneCgroups>) -> Self {
        self.cgroups = cgroups;
        self
    }

    /// The same scheduler, giving lanes run as a lane user `path` as their
    /// `PATH` (`None`: [`sandbox::DEFAULT_LANE_PATH`]).
    pub fn lane_path(mut self, path: Option<String>) -> Self {
        self.confinement.lane_path = path;
        self
    }

    /// The same scheduler with claims lasting `secs` without a heartbeat.
    pub fn lease_secs(mut self, secs: u64) -> Self {
        self.lease_secs = secs.max(3);
        self
    }

    /// Stops, at once, running lanes that are no longer `running` in the
    /// database (cancelled by a newer head or a gone branch, failed by hand)
    /// instead of waiting for their next heartbeat.
    async fn stop_superseded(&self) -> Result<(), SchedulerError> {
        let ids: Vec<LaneRunId> = self
            .running
            .lock()
            .map(|r| r.keys().copied().collect())
            .unwrap_or_default();
        for id in ids {
            if self.db.lane_status(id).await? != Some(LaneStatus::Running)
                && let Some(token) = self.running.lock().ok().and_then(|r| r.get(&id).cloned())
            {
                token.cancel();
            }
        }
        Ok(())
    }

    /// A handle that makes the scheduler look for work now (the wake endpoint).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// One pass: take back lanes of dead servers, recover expired leases,
    /// sync heads, queue a due nightly run (by the database's clock), start
    /// what fits.
    pub async fn tick(
        &self,
        shutdown: &CancellationToken,
    ) -> Result<Vec<tokio::task::JoinHandle<()>>, SchedulerError> {
        self.recover_dead_owners().await?;
        let recovered = self.db.recover_expired(MAX_ATTEMPTS).await?;
        if recovered > 0 {
            tracing::warn!(
                recovered,
                "lanes whose runner stopped answering were recovered"
            );
        }
        // One listing of the branch heads serves the sync and the nightly schedule.
        let heads = self.git.call(|g| g.list_branch_heads()).await?;
        sync_listed_heads(&self.db, &self.git, &self.repo, &heads).await?;
        let now = self.db.clock().now();
        let nightly = schedule_listed_nightly(&self.db, &self.git, &self.repo, &heads, now);
        match nightly.await {
            Ok(NightlyCheck::Made { id, slot }) => {
                tracing::info!(nightly_run_id = %id, %slot, "queued a nightly run");
            }
            Ok(_) => {}
            // The branches' CI goes on whatever the nightly schedule does.
            Err(e) => tracing::warn!(error = %e, "the nightly schedule could not be checked"),
        }
        self.stop_superseded().await?;
        let mut started = Vec::new();
        while let Some(claim) = self
            .db
            .claim_lane(&self.owner.to_string(), self.lease_secs)
            .await?
        {
            // Registered before the task starts, so the next tick can stop it
            // whatever the task has reached.
            let cancel = shutdown.child_token();
            if let Ok(mut r) = self.running.lock() {
                r.insert(claim.lane_id, cancel.clone());
            }
            let me = self.clone();
            started.push(tokio::spawn(async move {
                let lane_id = claim.lane_id;
                me.execute(claim, cancel).await;
                if let Ok(mut r) = me.running.lock() {
                    r.remove(&lane_id);
                }
            }));
        }
        Ok(started)
    }

    /// Runs until `shutdown`: a tick every poll interval or when woken.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut running: Vec<tokio::task::JoinHandle<()>> = Vec::new();
        loop {
            running.retain(|h| !h.is_finished());
            match self.tick(&shutdown).await {
                Ok(started) => running.extend(started),
                Err(e) => tracing::error!(error = %e, "scheduler tick failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(self.repo.poll_interval_secs)) => {}
                () = self.wake.notified() => {}
                () = shutdown.cancelled() => break,
            }
        }
        // Running lanes were cancelled with the shutdown token; let them record that.
        for h in running {
            let _ = h.await;
        }
    }

    /// Runs one claimed lane in a fresh worktree, keeping its lease alive.
    async fn execute(&self, claim: Claim, cancel: CancellationToken) {
        let lane_id = claim.lane_id;
        let fence = claim.fencing_token;
        let log_path = self.repo.data_dir.lane_log(lane_id);
        let worktree = self.repo.data_dir.worktree(lane_id, fence);
        let suite_id = claim.suite_id;
        // Every way out records the lane and refreshes its suite's summary.
        let finish = |status: LaneStatus, kind: Option<FailureKind>, message: String| {
            let db = self.db.clone();
            let log = log_path.to_string();
            async move {
                if let Ok(false) = db
                    .finish_lane(lane_id, fence, status, kind, message, Some(log))
                    .await
                {
                    tracing::warn!(
                        %lane_id,
                        "lane finished after losing its lease; result dropped"
                    );
                }
                let _ = db.refresh_suite_status(suite_id).await;
            }
        };
        let command: Option<LaneCommand> = claim
            .command
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok());
        let (Some(command), Ok(head)) = (command, CommitId::parse(&claim.head)) else {
            finish(
                LaneStatus::Failed,
                Some(FailureKind::Infrastructure),
                "the lane has nothing to run".into(),
            )
            .await;
            return;
        };
        let place = match self.make_place(lane_id, fence, &head).await {
            Ok(place) => place,
            Err(message) => {
                finish(
                    LaneStatus::Failed,
                    Some(FailureKind::Infrastructure),
                    message,
                )
                .await;
                return;
            }
        };

        // Heartbeat: renew the lease; a lost fence cancels the lane.
        let lost = cancel.child_token();
        let beat = {
            let (db, lost, lease) = (self.db.clone(), lost.clone(), self.lease_secs);
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(lease / 3));
                every.tick().await;
                loop {
                    every.tick().await;
                    if !matches!(db.renew_lease(lane_id, fence, lease).await, Ok(true)) {
                        lost.cancel();
                        break;
                    }
                }
            })
        };
        let spec = LaneRunSpec {
            command,
            worktree: worktree.clone(),
            pikaci_bin: self.repo.pikaci_bin.clone(),
            pikaci_state_root: self.repo.pikaci_state_root.clone(),
            branch: claim.branch.clone(),
            env_allow: self.repo.env_allow.clone(),
            parent_env: self.env.clone(),
            timeout: Duration::from_secs(claim.timeout_secs.unwrap_or(self.repo.lane_timeout_secs)),
            kill_grace: self.kill_grace,
            log_path: log_path.clone(),
            confinement: Confinement {
                user: place.user().cloned(),
                ..self.confinement.clone()
            },
            events_path: Some(self.repo.data_dir.lane_events(lane_id)),
            cgroup: self.cgroups.clone().map(|cgroups| LaneCgroupRequest {
                cgroups,
                lane: lane_id.to_string(),
                fence,
            }),
            home: Some(place.home.clone()),
        };
        let db = self.db.clone();
        let outcome = run_lane(spec, lost.clone(), move |ev| {
            if let LaneEvent::PikaciRunStarted(run) = ev {
                let db = db.clone();
                // Recorded at once, while the run is still going.
                tokio::spawn(async move {
                    let _ = db.record_pikaci_run(lane_id, fence, run.as_str()).await;
                });
            }
        })
        .await;
        if let Some(run) = &outcome.pikaci_run_id {
            let _ = self
                .db
                .record_pikaci_run(lane_id, fence, run.as_str())
                .await;
        }
        // The place is cleared (the lane's processes stopped, its run given
        // to the service) before the lane is recorded as finished, so a
        // finished lane's run can no longer change; the lease is kept alive
        // until then.
        self.clear_place(place, outcome.pikaci_run_id).await;
        finish(outcome.status, outcome.failure_kind, outcome.message).await;
        beat.abort();
    }

    /// Removes a dead server's lane's worktree and home (first as the lane
    /// user that owns them, when lanes run as one) and git's bookkeeping of
    /// the worktree, and gives its run (checked when it was recorded; its
    /// pikaci has ended) to the service; a failure is only logged.
    async fn remove_worktree(&self, lane: LaneRunId, fence: i64, run: Option<pikaci_core::RunId>) {
        let accounts = self.accounts.clone();
        let state_root = self.repo.pikaci_state_root.clone();
        let worktree = self.repo.data_dir.worktree(lane, fence);
        let home = self.repo.data_dir.lane_home(lane, fence);
        let removed = self
            .git
            .call(move |git| {
                for dir in [&worktree, &home] {
                    if let Some(user) = accounts.as_ref().and_then(|a| a.owner_of(dir)) {
                        sandbox::remove_worktree_as(dir, &user)
                            .map_err(GitError::RemoveWorktree)?;
                    }
                }
                if std::fs::symlink_metadata(&home).is_ok() {
                    std::fs::remove_dir_all(&home).map_err(GitError::RemoveWorktree)?;
                }
                if let (Some(_), Some(run)) = (&accounts, &run)
                    && let Err(e) = sandbox::files::seal_run(&state_root, run)
                {
                    tracing::warn!(%run, error = %e, "could not give a dead lane's run to the service");
                }
                git.remove_worktree(&worktree)
            })
            .await;
        if let Err(e) = removed {
            tracing::warn!(error = %e, "could not remove a lane worktree");
        }
    }
}

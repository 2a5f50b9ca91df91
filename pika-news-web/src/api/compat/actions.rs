//! Upstream's lane actions, scoped to a branch or a nightly run:
//!
//! ```text
//! POST /news/branch/{branch_id}/ci/{fail|requeue|rerun}/{lane_run_id}
//! POST /news/branch/{branch_id}/ci/recover/{run_id}        run_id: a suite
//! POST /news/nightly/{nightly_run_id}/{fail|requeue|rerun}/{lane_run_id}
//! POST /news/nightly/{nightly_run_id}/recover
//! ```
//!
//! A lane not in that branch's suites (or that nightly run) is a 404; an
//! action its status does not allow is a 409 (fail: queued or running;
//! requeue: queued, running or failed; rerun: finished). `ph` sends `{}` as
//! the body; the body is not read.
//!
//! One handler serves them all ([`act`]): the route's path says the scope
//! ([`Target`]), the type parameter the action ([`Fail`], [`Requeue`],
//! [`Rerun`], [`Recover`]), each with its answer's shape.

use std::collections::HashMap;
use std::future::Future;

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;

use super::dto::{BranchRerun, LaneMutation, NightlyRerun, RecoverDone};
use super::view::lane_status;
use crate::auth::WriteAccess;
use crate::db::{BranchId, LaneAction, LaneRunId, LaneScope, NightlyRunId, SuiteId};
use crate::error::ApiError;
use crate::query;
use crate::state::AppState;

/// A route's path parameters, by name.
pub(crate) type PathParams = HashMap<String, String>;

/// What an action is scoped to: a branch's suites or one nightly run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// `/news/branch/{branch_id}/ci/...`.
    Branch(BranchId),
    /// `/news/nightly/{nightly_run_id}/...`.
    Nightly(NightlyRunId),
}

impl Target {
    /// The scope the route's path names (400 when it is not an id).
    fn from_path(path: &PathParams) -> Result<Self, ApiError> {
        match (path.get("branch_id"), path.get("nightly_run_id")) {
            (Some(b), _) => Ok(Self::Branch(query::row_id("branch id", b)?)),
            (None, Some(n)) => Ok(Self::Nightly(query::row_id("nightly run id", n)?)),
            (None, None) => Err(ApiError::Internal(
                "a lane action's route names no branch and no nightly run".into(),
            )),
        }
    }

    fn scope(self) -> LaneScope {
        match self {
            Self::Branch(b) => LaneScope::Branch(b),
            Self::Nightly(n) => LaneScope::Nightly(n),
        }
    }

    /// The branch and the nightly run, as upstream's answers carry them.
    fn ids(self) -> (Option<BranchId>, Option<NightlyRunId>) {
        match self {
            Self::Branch(b) => (Some(b), None),
            Self::Nightly(n) => (None, Some(n)),
        }
    }
}

/// One of upstream's actions on the lanes of a [`Target`].
pub(crate) trait CompatAction {
    /// The answer's shape (upstream's).
    type Answer: Serialize;

    /// Applies the action; `path` holds the route's other parameters.
    fn apply(
        state: &AppState,
        target: Target,
        path: &PathParams,
    ) -> impl Future<Output = Result<Self::Answer, ApiError>> + Send;
}

/// Every compat action's handler: the caller may write, the path names the
/// target, the action is applied and the scheduler woken.
pub(crate) async fn act<A: CompatAction>(
    _: WriteAccess,
    State(state): State<AppState>,
    Path(path): Path<PathParams>,
) -> Result<Json<A::Answer>, ApiError> {
    let target = Target::from_path(&path)?;
    let answer = A::apply(&state, target, &path).await?;
    state.wake();
    Ok(Json(answer))
}

/// The lane run the path names.
fn lane_of(path: &PathParams) -> Result<LaneRunId, ApiError> {
    let raw = path.get("lane_run_id").map_or("", String::as_str);
    query::row_id("lane run id", raw)
}

/// Applies a fail or requeue, answering upstream's `LaneMutationResponse`.
async fn mutate(
    state: &AppState,
    target: Target,
    path: &PathParams,
    action: LaneAction,
) -> Result<LaneMutation, ApiError> {
    let lane = lane_of(path)?;
    let (lane_run_id, status) = state
        .db
        .lane_action_in(target.scope(), lane, action)
        .await?;
    let (branch_id, nightly_run_id) = target.ids();
    Ok(LaneMutation {
        status: "ok",
        branch_id,
        nightly_run_id,
        lane_run_id,
        lane_status: lane_status(status),
    })
}

/// `.../fail/{lane_run_id}`: a queued or running lane failed.
pub(crate) struct Fail;

impl CompatAction for Fail {
    type Answer = LaneMutation;

    async fn apply(
        state: &AppState,
        target: Target,
        path: &PathParams,
    ) -> Result<LaneMutation, ApiError> {
        mutate(state, target, path, LaneAction::Fail).await
    }
}

/// `.../requeue/{lane_run_id}`: a queued, running or failed lane back in the queue.
pub(crate) struct Requeue;

impl CompatAction for Requeue {
    type Answer = LaneMutation;

    async fn apply(
        state: &AppState,
        target: Target,
        path: &PathParams,
    ) -> Result<LaneMutation, ApiError> {
        mutate(state, target, path, LaneAction::Requeue).await
    }
}

/// A rerun's answer: its shape depends on the target.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(crate) enum RerunDone {
    /// Of a branch's lane.
    Branch(BranchRerun),
    /// Of a nightly run's lane.
    Nightly(NightlyRerun),
}

/// `.../rerun/{lane_run_id}`: a new run of a finished lane, in the same
/// suite (or nightly run).
pub(crate) struct Rerun;

impl CompatAction for Rerun {
    type Answer = RerunDone;

    async fn apply(
        state: &AppState,
        target: Target,
        path: &PathParams,
    ) -> Result<RerunDone, ApiError> {
        let lane = lane_of(path)?;
        let (new, _) = state
            .db
            .lane_action_in(target.scope(), lane, LaneAction::Rerun)
            .await?;
        Ok(match target {
            Target::Branch(branch_id) => {
                let suite = state
                    .db
                    .lane_detail(new)
                    .await?
                    .map(|d| d.run.suite_id)
                    .ok_or_else(|| {
                        ApiError::Internal(format!("the rerun lane run {new} vanished"))
                    })?;
                RerunDone::Branch(BranchRerun {
                    status: "ok",
                    branch_id,
                    rerun_suite_id: suite,
                    lane_run_id: new,
                })
            }
            Target::Nightly(nightly_run_id) => RerunDone::Nightly(NightlyRerun {
                status: "ok",
                nightly_run_id,
                rerun_run_id: nightly_run_id,
                lane_run_id: new,
            }),
        })
    }
}

/// `.../recover`: every queued, running or failed lane of a branch's suite
/// (`{run_id}`) or of the nightly run back in the queue.
pub(crate) struct Recover;

impl CompatAction for Recover {
    type Answer = RecoverDone;

    async fn apply(
        state: &AppState,
        target: Target,
        path: &PathParams,
    ) -> Result<RecoverDone, ApiError> {
        let suite: Option<SuiteId> = match target {
            Target::Branch(_) => {
                let raw = path.get("run_id").map_or("", String::as_str);
                Some(query::row_id("run id", raw)?)
            }
            Target::Nightly(_) => None,
        };
        let n = state.db.recover_in(target.scope(), suite).await?;
        let (branch_id, nightly_run_id) = target.ids();
        Ok(RecoverDone {
            status: "ok",
            branch_id,
            run_id: suite,
            nightly_run_id,
            recovered_lane_count: n,
        })
    }
}

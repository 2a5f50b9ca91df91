//! [`LaneQueueReason`]: why a queued lane waits, as every lane answer
//! carries it (`queue_reason`, ours and in upstream's shape alike). It is
//! the database's [`QueueReason`](crate::db::QueueReason), decided by the
//! rule the scheduler claims by, so an answer never says a lane waits for
//! something the scheduler does not.

use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{self, BranchId, LaneRunId, LaneScope, NightlyRunId};

/// What a queued lane waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum QueueReasonKind {
    /// Every lane slot (`ci_concurrency`) is in use.
    Capacity,
    /// A running lane holds its concurrency group.
    ConcurrencyGroup,
    /// What it waits for is held by a lane whose runner stopped renewing
    /// its lease; it is freed when that lease is recovered.
    LeaseRecovery,
    /// Nothing: the scheduler claims it at its next pass.
    NextPass,
}

/// Why a queued lane waits (`queue_reason`; `null` for a lane that is not
/// queued).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LaneQueueReason {
    /// What it waits for.
    pub(crate) kind: QueueReasonKind,
    /// The concurrency group it waits for, when that is what it waits for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) group: Option<String>,
    /// The running lane it waits for (the group's holder, or the lane whose
    /// lease is being recovered).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) holder_lane_id: Option<LaneRunId>,
    /// That lane's branch, when it is a branch's lane (its page:
    /// `/git/branch/{holder_branch_id}/ci/lane/{holder_lane_id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) holder_branch_id: Option<BranchId>,
    /// That lane's nightly run, when it is a nightly lane (its page:
    /// `/git/nightly/{holder_nightly_run_id}/lane/{holder_lane_id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) holder_nightly_run_id: Option<NightlyRunId>,
    /// For `capacity`: the lanes running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) running: Option<u32>,
    /// For `capacity`: how many may run at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) slots: Option<u32>,
    /// For `lease_recovery`: when the holder's runner last renewed its lease.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_heartbeat_at: Option<String>,
    /// For `lease_recovery`: when the holder's lease runs (or ran) out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) lease_expires_at: Option<String>,
    /// The same in words, as the pages and the `operator_hint` say it:
    /// `waiting for group staged-linux:x (lane #12 holds it)`.
    pub(crate) message: String,
}

impl From<&db::QueueReason> for LaneQueueReason {
    fn from(r: &db::QueueReason) -> Self {
        let holder = r.holder();
        let mut out = Self {
            kind: match r {
                db::QueueReason::Capacity { .. } => QueueReasonKind::Capacity,
                db::QueueReason::ConcurrencyGroup { .. } => QueueReasonKind::ConcurrencyGroup,
                db::QueueReason::LeaseRecovery { .. } => QueueReasonKind::LeaseRecovery,
                db::QueueReason::NextPass => QueueReasonKind::NextPass,
            },
            group: r.group().map(str::to_owned),
            holder_lane_id: holder.map(|h| h.lane),
            holder_branch_id: holder.and_then(|h| match h.scope {
                LaneScope::Branch(b) => Some(b),
                LaneScope::Nightly(_) => None,
            }),
            holder_nightly_run_id: holder.and_then(|h| match h.scope {
                LaneScope::Nightly(n) => Some(n),
                LaneScope::Branch(_) => None,
            }),
            running: None,
            slots: None,
            last_heartbeat_at: None,
            lease_expires_at: None,
            message: r.to_string(),
        };
        match r {
            db::QueueReason::Capacity { running, slots } => {
                (out.running, out.slots) = (Some(*running), Some(*slots));
            }
            db::QueueReason::LeaseRecovery {
                last_heartbeat_at,
                lease_expires_at,
                ..
            } => {
                out.last_heartbeat_at.clone_from(last_heartbeat_at);
                out.lease_expires_at.clone_from(lease_expires_at);
            }
            db::QueueReason::ConcurrencyGroup { .. } | db::QueueReason::NextPass => {}
        }
        out
    }
}

//! The shapes upstream pika's `ph` client reads, field for field, in
//! upstream's words: lane statuses `success` (not `passed`), CI statuses
//! `queued | running | success | failed`, failure kinds `test_failure |
//! timeout | infrastructure` only. Every key upstream's client requires is
//! always sent (`null` where upstream allows it); a few keys of our own ride
//! along, which `ph` ignores.

use serde::Serialize;
use utoipa::ToSchema;

use crate::api::queue_reason::LaneQueueReason;
use crate::db::{BranchId, BranchState, LaneRunId, NightlyRunId, SuiteId};
use crate::lanes::lane_source::LaneSource;

/// A lane run's status, in upstream's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CiLaneStatus {
    /// Waiting to be claimed.
    Queued,
    /// Running.
    Running,
    /// Passed.
    Success,
    /// Failed (see `failure_kind`).
    Failed,
    /// Cancelled (a newer head, a gone branch, a stopping server).
    Cancelled,
}

/// A suite's, a nightly run's or a branch's CI status, in upstream's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ForgeCiStatus {
    /// Every lane is waiting (or the head has no suite yet).
    Queued,
    /// Some lane runs, or some wait while others finished.
    Running,
    /// Every lane passed (or there was nothing to run).
    Success,
    /// Some lane failed or was cancelled, or the suite could not start.
    Failed,
}

/// Why a queued lane waits, in upstream's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CiLaneExecutionReason {
    /// Waiting for its turn.
    Queued,
    /// Running.
    Running,
    /// Another lane of its concurrency group runs.
    BlockedByConcurrencyGroup,
    /// Put back in the queue after its runner stopped answering.
    StaleRecovered,
}

/// Why a lane failed, in upstream's words (a cancelled lane has none: its
/// status says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CiLaneFailureKind {
    /// Its code failed.
    TestFailure,
    /// It ran past its timeout.
    Timeout,
    /// It could not be run (or its run was lost).
    Infrastructure,
}

/// Upstream's tutorial status; pika-news makes no tutorials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TutorialStatus {
    /// Always: there is no tutorial.
    Pending,
}

/// One lane run, as upstream shows it (`CiLane`), with our own keys after
/// upstream's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CiLane {
    /// The lane run's id.
    pub id: LaneRunId,
    /// The lane definition's id.
    pub lane_id: String,
    /// Its title.
    pub title: String,
    /// What it runs, as shown: the manifest's `entrypoint`, else its command line.
    pub entrypoint: String,
    /// Its status.
    pub status: CiLaneStatus,
    /// How the status reads at a glance: `success`, `danger` (failed,
    /// cancelled) or `warning` (queued, running), as upstream's pages colour it.
    #[schema(required = true)]
    pub status_tone: Option<&'static str>,
    /// Whether it failed.
    #[schema(required = true)]
    pub is_failed: Option<bool>,
    /// Why a queued or running lane is where it is; omitted once it finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_reason: Option<CiLaneExecutionReason>,
    /// `execution_reason` in words (`blocked by concurrency group`); `null`
    /// once it finished.
    #[schema(required = true)]
    pub execution_reason_label: Option<&'static str>,
    /// Why it failed; `null` unless it failed (never for a cancelled lane).
    #[schema(required = true)]
    pub failure_kind: Option<CiLaneFailureKind>,
    /// `failure_kind` in words (`test failure`, `timeout`, `infrastructure`).
    #[schema(required = true)]
    pub failure_kind_label: Option<&'static str>,
    /// The pikaci run it started, once `run_started` arrived.
    #[schema(required = true)]
    pub pikaci_run_id: Option<String>,
    /// The pikaci target it runs (a pikaci lane).
    #[schema(required = true)]
    pub pikaci_target_id: Option<String>,
    /// The end of the lane's own log (in branch logs; `null` elsewhere).
    #[schema(required = true)]
    pub log_text: Option<String>,
    /// How many times it was put back in the queue.
    pub retry_count: i64,
    /// The lane run it repeats (a rerun).
    #[schema(required = true)]
    pub rerun_of_lane_run_id: Option<LaneRunId>,
    /// When it was queued.
    pub created_at: String,
    /// When it started.
    #[schema(required = true)]
    pub started_at: Option<String>,
    /// When it finished.
    #[schema(required = true)]
    pub finished_at: Option<String>,
    /// `queued 5s · ran 1m 02s`.
    #[schema(required = true)]
    pub timing_summary: Option<String>,
    /// When its runner last renewed its lease (or claimed it), while it runs.
    #[schema(required = true)]
    pub last_heartbeat_at: Option<String>,
    /// When its lease ends, while it runs.
    #[schema(required = true)]
    pub lease_expires_at: Option<String>,
    /// What an operator should know of where it is, in one line: `queued
    /// 20m: waiting for group staged-linux:x (lane #41 holds it)`, `running
    /// 3m: lease until ..., last heartbeat ...`, `failed at ...: test
    /// failure`; `null` for a lane that passed.
    #[schema(required = true)]
    pub operator_hint: Option<String>,
    /// While it is queued: why it is not running yet (ours; `null`
    /// otherwise). `operator_hint` says the same in its line.
    #[schema(required = true)]
    pub queue_reason: Option<LaneQueueReason>,
    /// The suite it belongs to (ours).
    pub suite_id: SuiteId,
    /// The lane definition's id again, under our own name.
    pub lane: String,
    /// How many times it was claimed (ours).
    pub attempts: i64,
    /// A one-line summary of how it ended (ours).
    #[schema(required = true)]
    pub message: Option<String>,
}

/// One suite of a branch, as upstream shows a CI run (`CiRun`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CiRun {
    /// The suite's id (the `run_id` of recover and branch logs).
    pub id: SuiteId,
    /// The head it tested.
    pub source_head_sha: String,
    /// Its status.
    pub status: ForgeCiStatus,
    /// How the status reads at a glance: `success`, `danger` or `warning`.
    #[schema(required = true)]
    pub status_tone: Option<&'static str>,
    /// How many lane runs it has.
    pub lane_count: usize,
    /// Always `null`: a rerun is a new lane run in the same suite.
    #[schema(required = true)]
    pub rerun_of_run_id: Option<SuiteId>,
    /// When it was queued.
    pub created_at: String,
    /// When its first lane started.
    #[schema(required = true)]
    pub started_at: Option<String>,
    /// When it finished.
    #[schema(required = true)]
    pub finished_at: Option<String>,
    /// `queued 5s · ran 1m 02s`.
    #[schema(required = true)]
    pub timing_summary: Option<String>,
    /// Its lane runs, oldest first.
    pub lanes: Vec<CiLane>,
}

/// A branch, as upstream shows it (`BranchSummary`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BranchSummary {
    /// Its id.
    pub branch_id: BranchId,
    /// The repository, e.g. `sledtools/pika`.
    pub repo: String,
    /// Its name.
    pub branch_name: String,
    /// Its head commit's subject (its name until that is known).
    pub title: String,
    /// `open`, `closed` or `merged`.
    pub branch_state: BranchState,
    /// When it last changed.
    pub updated_at: String,
    /// The default branch it targets.
    pub target_branch: String,
    /// Its head commit (empty until one is seen).
    pub head_sha: String,
    /// Its merge base with the default branch (empty when there is none).
    pub merge_base_sha: String,
    /// The merge commit, once merged through the server; else `null`.
    #[schema(required = true)]
    pub merge_commit_sha: Option<String>,
    /// Always `pending`: pika-news makes no tutorials.
    pub tutorial_status: TutorialStatus,
    /// Its newest suite's status (`queued` before it has one).
    pub ci_status: ForgeCiStatus,
    /// Why its newest suite could not start (a manifest error), if so.
    #[schema(required = true)]
    pub error_message: Option<String>,
}

/// `GET /news/api/forge/nightly/{nightly_run_id}`: a nightly run
/// (`NightlyDetailResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NightlyDetail {
    /// Its id.
    pub nightly_run_id: NightlyRunId,
    /// The repository.
    pub repo: String,
    /// The slot it was scheduled for.
    pub scheduled_for: String,
    /// When it was made.
    pub created_at: String,
    /// The ref it ran, e.g. `refs/heads/master`.
    pub source_ref: String,
    /// The commit it ran.
    pub source_head_sha: String,
    /// Its status.
    pub status: ForgeCiStatus,
    /// A one-line summary, if any.
    #[schema(required = true)]
    pub summary: Option<String>,
    /// The nightly run it repeats.
    #[schema(required = true)]
    pub rerun_of_run_id: Option<NightlyRunId>,
    /// When its first lane started.
    #[schema(required = true)]
    pub started_at: Option<String>,
    /// When it finished.
    #[schema(required = true)]
    pub finished_at: Option<String>,
    /// Its lane runs, oldest first.
    pub lanes: Vec<CiLane>,
    /// The suite holding its lanes (ours).
    pub suite_id: SuiteId,
    /// Where its lanes came from (ours), as a branch suite's
    /// `lane_source`: `head_manifest`, `head_pipeline` or
    /// `server_manifest`; absent for runs made before it was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "head_pipeline")]
    pub lane_source: Option<LaneSource>,
}

/// `GET /news/api/forge/nightly`: the newest nightly runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NightlyList {
    /// Newest first (at most 30).
    pub nightly_runs: Vec<NightlyDetail>,
}

/// A fail or requeue of one lane (`LaneMutationResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LaneMutation {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The branch, for a branch's lane.
    #[schema(required = true)]
    pub branch_id: Option<BranchId>,
    /// The nightly run, for a nightly lane.
    #[schema(required = true)]
    pub nightly_run_id: Option<NightlyRunId>,
    /// The lane run.
    pub lane_run_id: LaneRunId,
    /// Its status now.
    pub lane_status: CiLaneStatus,
}

/// A rerun of a branch's lane: a new lane run in the same suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BranchRerun {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The branch.
    pub branch_id: BranchId,
    /// The suite the new lane run is in (the one the lane was in).
    pub rerun_suite_id: SuiteId,
    /// The new lane run.
    pub lane_run_id: LaneRunId,
}

/// A rerun of a nightly lane: a new lane run in the same nightly run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NightlyRerun {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The nightly run.
    pub nightly_run_id: NightlyRunId,
    /// The nightly run the new lane run is in (the same one).
    pub rerun_run_id: NightlyRunId,
    /// The new lane run.
    pub lane_run_id: LaneRunId,
}

/// A recover of a suite or a nightly run (`RecoverRunResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecoverDone {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The branch, for a branch's suite.
    #[schema(required = true)]
    pub branch_id: Option<BranchId>,
    /// The suite, for a branch's suite.
    #[schema(required = true)]
    pub run_id: Option<SuiteId>,
    /// The nightly run, for a nightly run.
    #[schema(required = true)]
    pub nightly_run_id: Option<NightlyRunId>,
    /// How many lanes were put back in the queue.
    pub recovered_lane_count: usize,
}

/// `POST /news/api/forge/ci/wake` (`WakeCiResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WakeCi {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// What happened.
    pub message: String,
}

/// `GET /news/api/me`: who the token is (`MeResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Me {
    /// The Nostr key a login gave the token to (`npub1...`); for a token
    /// made with `pika-news token create`, its name.
    pub npub: String,
    /// Whether the token has the admin role.
    pub is_admin: bool,
    /// Always `false`: pika-news has no chat.
    pub can_chat: bool,
    /// Whether the token may act on lanes (write or admin role).
    pub can_forge_write: bool,
}

/// `POST {prefix}/auth/challenge` (`ChallengeResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct LoginChallenge {
    /// 32 hex digits to sign as a login event's content; single use, valid
    /// for 120 s.
    pub challenge: String,
}

/// `POST {prefix}/auth/verify` (`LoginResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct LoginDone {
    /// A token for the API (`Authorization: Bearer ...`), valid 90 days.
    pub token: String,
    /// The key that logged in.
    pub npub: String,
    /// Whether the token has the admin role.
    pub is_admin: bool,
    /// Whether the token may act on lanes and branches (write or admin).
    pub can_forge_write: bool,
    /// When the token stops working (ours, beside upstream's keys).
    pub expires_at: String,
}

/// One key of the login allowlist, in upstream's shape (`ChatAllowlistEntry`)
/// with our role beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct AllowlistEntry {
    /// The key.
    pub npub: String,
    /// Whether it may log in.
    pub active: bool,
    /// Whether its logins may act on lanes and branches (role write or admin).
    pub can_forge_write: bool,
    /// Why it is there.
    #[schema(required = true)]
    pub note: Option<String>,
    /// Who changed it last.
    pub updated_by: String,
    /// When.
    pub updated_at: String,
    /// The role its logins get: `read`, `write` or `admin`.
    pub role: String,
}

/// `GET {prefix}/api/admin/allowlist`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct Allowlist {
    /// The keys of `bootstrap_admin_npubs`: admins by configuration, not
    /// changeable here.
    pub bootstrap_admin_npubs: Vec<String>,
    /// The database's entries, by key.
    pub entries: Vec<AllowlistEntry>,
}

/// `POST {prefix}/api/admin/allowlist`: the entry as it now is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct AllowlistChanged {
    /// The entry.
    pub entry: AllowlistEntry,
    /// Always 0 (upstream's review-inbox backfill; there is none here).
    pub backfilled: u32,
}

/// `POST {prefix}/api/forge/branch/{branch_id}/merge` and `.../close`
/// (`BranchActionResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BranchAction {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The branch.
    pub branch_id: BranchId,
    /// The merge commit (a merge); `null` for a close.
    #[schema(required = true)]
    pub merge_commit_sha: Option<String>,
    /// `true` for a close (its ref was deleted); `null` for a merge, as
    /// upstream answers (a merge deletes the ref too).
    #[schema(required = true)]
    pub deleted: Option<bool>,
}

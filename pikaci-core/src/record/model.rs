//! `run.json`: the record of one run and of each of its jobs.
//!
//! Optional fields are omitted when empty and accepted as absent or `null`.
//! Keys this version does not model (the earlier pikaci wrote many) are kept
//! as read in each record's `extra` map and written back as they were, so
//! rewriting a record (for example marking it interrupted) loses nothing.

use std::collections::BTreeMap;

use camino::Utf8PathBuf;
use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::ids::{JobId, RunId, TargetId};
use crate::status::{ExecutorKind, FailureKind, RunStatus};

/// Accepts `null` for a collection and treats it as empty.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Keys of a record that this version does not model, with their values as
/// read: written back unchanged (after the modelled keys) when the record is
/// saved again.
pub type Extra = Map<String, Value>;

/// Which process owns a running run, so a reader can tell a live run from one
/// whose owner died (see [`crate::Liveness`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunOwner {
    /// Process id of the pikaci that writes the run.
    pub pid: u32,
    /// Host name of the machine it runs on.
    pub host: String,
    /// When that process started, in clock ticks after boot
    /// (`/proc/<pid>/stat` field 22), so a reused pid is not taken for the
    /// owner (new; absent in records of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ticks: Option<u64>,
    /// Whether the owner holds its run folder locked exclusively while it
    /// runs (new; written only when true). The kernel drops that lock when
    /// the owner dies, however it dies, so readers judge such a run by the
    /// lock alone and no pid or start time in the record can keep it
    /// `running` (see [`crate::Liveness::owner_state_with`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub lock: bool,
}

/// The record of one run, as stored in `runs/<run_id>/run.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunRecord {
    /// The run id.
    pub run_id: RunId,
    /// `running` until the run ends.
    pub status: RunStatus,
    /// The run this one re-runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<RunId>,
    /// The pipeline target that was run, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<TargetId>,
    /// The target's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_description: Option<String>,
    /// The source tree the run was made from.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub source_root: Utf8PathBuf,
    /// The copy of the source the jobs ran in.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub snapshot_dir: Utf8PathBuf,
    /// The git commit of the source, when it is a git checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_head: Option<String>,
    /// Whether the checkout had changes not committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_dirty: Option<bool>,
    /// The branch the run was made from: the one checked out, or the one
    /// its caller named for a detached checkout (`--branch`,
    /// `PIKACI_GIT_BRANCH`, as a CI service's worktree is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_branch: Option<String>,
    /// When the run was created.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When the run finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub finished_at: Option<Timestamp>,
    /// Files changed in the checkout (relative paths, informative).
    #[serde(default, deserialize_with = "null_as_default")]
    pub changed_files: Vec<String>,
    /// The job filters the run was started with.
    #[serde(default, deserialize_with = "null_as_default")]
    pub filters: Vec<String>,
    /// A one-line summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why the run failed as a whole (cancelled, interrupted...), when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_kind: Option<FailureKind>,
    /// Why the run was cancelled (`interrupted (SIGINT, Ctrl-C)`), when it
    /// was and the canceller said (new). The status stays `failed`, with
    /// `failure_kind` `cancelled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// The jobs the run means to run, in order (new; empty in older records).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub planned_jobs: Vec<JobId>,
    /// The jobs each planned job needs, as its pipeline names them (new;
    /// jobs that need none are left out): what shows the run's job graph
    /// before and after its jobs ran.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, Vec<String>>))]
    pub job_needs: BTreeMap<JobId, Vec<JobId>>,
    /// The process writing the run while it is `running` (new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<RunOwner>,
    /// The run whose kept snapshot this run's jobs ran in, when it is not the
    /// run's own: set by a rerun of that run (new).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_of: Option<RunId>,
    /// Why the snapshot the run kept for reruns may be incomplete, when it
    /// is (new): a content could not be stored while the jobs ran. The
    /// run's `snapshot` folder then stays, and a rerun takes what it can
    /// from there, checked against the manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_warning: Option<String>,
    /// Jobs that have started, in start order.
    #[serde(default, deserialize_with = "null_as_default")]
    pub jobs: Vec<JobRecord>,
    /// Keys this version does not model (the earlier pikaci's `plan_path`,
    /// `prepared_output_*`, `prepare_timings`...), kept as read.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, serde_json::Value>))]
    pub extra: Extra,
}

/// The record of one job inside a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobRecord {
    /// The job id.
    pub id: JobId,
    /// What the job does.
    #[serde(default)]
    pub description: String,
    /// `running`, then `passed`, `failed` or `skipped`.
    pub status: RunStatus,
    /// Where it ran.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "host"))]
    pub executor: ExecutorKind,
    /// Its timeout.
    pub timeout_secs: u64,
    /// Where `host.log` was written (informative only: never opened from here).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub host_log_path: Utf8PathBuf,
    /// Where `guest.log` was written (informative only: never opened from here).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub guest_log_path: Utf8PathBuf,
    /// When it started.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub started_at: Timestamp,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub finished_at: Option<Timestamp>,
    /// The command's exit code, when it exited by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// A one-line summary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_kind: Option<FailureKind>,
    /// The phases of an Incus VM execution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_linux_vm_execution: Option<RemoteVmExecution>,
    /// Whether the job's output outgrew its `max_log_bytes`, so `guest.log`
    /// was cut (it ends with one marker line saying so). New; omitted when
    /// false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub log_truncated: bool,
    /// Keys this version does not model (the earlier pikaci's `plan_node_id`,
    /// `placement`, `runtime`, `pre_execution_prepare_duration_ms`...), kept as read.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, serde_json::Value>))]
    pub extra: Extra,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// How a job ran in a VM: the backend and each timed phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RemoteVmExecution {
    /// `incus` (the earlier pikaci also wrote `microvm`; any name is kept as written).
    pub backend: String,
    /// Phases in order.
    #[serde(default, deserialize_with = "null_as_default")]
    pub phases: Vec<VmPhase>,
    /// Keys this version does not model (the earlier pikaci's `incus_image`), kept as read.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, serde_json::Value>))]
    pub extra: Extra,
}

impl RemoteVmExecution {
    /// An execution on `backend` with `phases` and nothing else.
    pub fn new(backend: impl Into<String>, phases: Vec<VmPhase>) -> Self {
        Self {
            backend: backend.into(),
            phases,
            extra: Extra::new(),
        }
    }
}

/// One timed phase of a VM execution. The name is kept as written: this
/// pikaci's Incus phases (`prepare_artifacts`, `launch_guest`,
/// `collect_artifacts`...) and the earlier pikaci's (`prepare_directories`,
/// `stage_workspace_snapshot`, `prepare_runtime`, `wait_for_completion`...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VmPhase {
    /// The phase name.
    pub phase: String,
    /// When it started.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub started_at: Timestamp,
    /// When it finished.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub finished_at: Timestamp,
    /// How long it took.
    pub duration_ms: u64,
    /// Keys this version does not model, kept as read.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, serde_json::Value>))]
    pub extra: Extra,
}

impl RunRecord {
    /// The job with this id, if it has started.
    pub fn job(&self, id: &JobId) -> Option<&JobRecord> {
        self.jobs.iter().find(|j| &j.id == id)
    }

    /// The job with this id, mutably.
    pub fn job_mut(&mut self, id: &JobId) -> Option<&mut JobRecord> {
        self.jobs.iter_mut().find(|j| &j.id == id)
    }

    /// Marks a `running` record whose owner died as failed/interrupted, and
    /// each of its still-running jobs too. Returns whether anything changed.
    pub fn mark_interrupted(&mut self, now: Timestamp) -> bool {
        if self.status != RunStatus::Running {
            return false;
        }
        for job in self
            .jobs
            .iter_mut()
            .filter(|j| j.status == RunStatus::Running)
        {
            job.status = RunStatus::Failed;
            job.failure_kind = Some(FailureKind::Interrupted);
            job.finished_at = Some(now);
            job.message = Some("interrupted: the pikaci process running this job is gone".into());
        }
        self.status = RunStatus::Failed;
        self.failure_kind = Some(FailureKind::Interrupted);
        self.finished_at = Some(now);
        self.owner = None;
        self.message = Some("interrupted: the pikaci process running this run is gone".into());
        true
    }
}

#[cfg(any(test, feature = "test-helpers"))]
impl RunRecord {
    /// A small finished record for tests: one passed job `build`.
    pub fn for_test(run_id: &str) -> Self {
        let run_id: RunId = run_id.parse().expect("test run id is valid");
        // A run id that carries no time (`pikaci-run-123`) gets a fixed one.
        let created_at = run_id
            .timestamp()
            .unwrap_or_else(|| "2026-03-24T16:12:38Z".parse().expect("a valid time"));
        Self {
            status: RunStatus::Passed,
            finished_at: Some(created_at),
            jobs: vec![JobRecord::for_test("build", created_at)],
            ..Self::begin(run_id, created_at, "/src".into(), "/src/.snapshot".into())
        }
    }
}

#[cfg(any(test, feature = "test-helpers"))]
impl JobRecord {
    /// A passed host job for tests.
    pub fn for_test(id: &str, at: Timestamp) -> Self {
        let spec = crate::pipeline::JobSpec {
            description: format!("test job {id}"),
            timeout_secs: 60,
            ..crate::pipeline::JobSpec::for_test(id, "true")
        };
        Self {
            status: RunStatus::Passed,
            finished_at: Some(at),
            exit_code: Some(0),
            ..Self::begin(&spec, at, |file| {
                format!("jobs/{id}/{}", file.file_name()).into()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_fields_are_omitted_and_nulls_accepted() {
        let rec = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        let v = serde_json::to_value(&rec).unwrap();
        let obj = v.as_object().unwrap();
        for absent in [
            "rerun_of",
            "target_id",
            "git_head",
            "message",
            "failure_kind",
            "owner",
        ] {
            assert!(!obj.contains_key(absent), "{absent} should be omitted");
        }
        assert_eq!(obj["created_at"], "2026-03-24T16:12:38Z");
        assert_eq!(obj["changed_files"], serde_json::json!([]));

        let mut with_nulls = v.clone();
        for k in [
            "rerun_of",
            "target_id",
            "git_head",
            "git_dirty",
            "message",
            "changed_files",
        ] {
            with_nulls[k] = serde_json::Value::Null;
        }
        with_nulls["created_at"] = "2026-03-24T16:12:38+00:00".into();
        let back: RunRecord = serde_json::from_value(with_nulls).unwrap();
        assert_eq!(back, rec);
    }

    #[test]
    fn unknown_keys_are_kept_through_a_rewrite_but_bad_ids_are_refused() {
        let mut v = serde_json::to_value(RunRecord::for_test("20260324T161238Z-1a2b3c4d")).unwrap();
        v["plan_path"] = "/x/plan.json".into();
        v["prepare_timings"] = serde_json::json!([{"node_id": "n", "duration_ms": 19000}]);
        v["prepared_output_mode"] = Value::Null;
        v["jobs"][0]["plan_node_id"] = "n".into();
        v["jobs"][0]["pre_execution_prepare_duration_ms"] = 19000.into();
        v["jobs"][0]["remote_linux_vm_execution"] = serde_json::json!({
            "backend": "microvm",
            "incus_image": {"project": "p", "alias": "a", "fingerprint": null},
            "phases": [{"phase": "stage_workspace_snapshot", "started_at": "2026-03-24T16:22:59.5+00:00",
                        "finished_at": "2026-03-24T16:23:01+00:00", "duration_ms": 1500, "note": 1}],
        });
        let mut rec: RunRecord = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(rec.extra["plan_path"], "/x/plan.json");
        assert_eq!(rec.jobs[0].extra["plan_node_id"], "n");
        let exec = rec.jobs[0].remote_linux_vm_execution.as_ref().unwrap();
        assert_eq!(exec.backend, "microvm");
        assert_eq!(exec.phases[0].phase, "stage_workspace_snapshot");
        assert_eq!(exec.extra["incus_image"]["fingerprint"], Value::Null);

        rec.mark_interrupted(rec.created_at);
        let back = serde_json::to_value(&rec).unwrap();
        for key in ["plan_path", "prepare_timings", "prepared_output_mode"] {
            assert_eq!(back[key], v[key], "{key}");
        }
        for key in ["plan_node_id", "pre_execution_prepare_duration_ms"] {
            assert_eq!(back["jobs"][0][key], v["jobs"][0][key], "{key}");
        }
        let vm = &back["jobs"][0]["remote_linux_vm_execution"];
        assert_eq!(
            vm["incus_image"],
            v["jobs"][0]["remote_linux_vm_execution"]["incus_image"]
        );
        assert_eq!(vm["phases"][0]["note"], 1);

        v["jobs"][0]["id"] = "../../etc".into();
        assert!(serde_json::from_value::<RunRecord>(v).is_err());
    }

    #[test]
    fn an_owner_without_a_start_time_still_loads() {
        let mut v = serde_json::to_value(RunRecord::for_test("20260324T161238Z-1a2b3c4d")).unwrap();
        v["owner"] = serde_json::json!({"pid": 7, "host": "h"});
        let old: RunRecord = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(old.owner.as_ref().unwrap().start_ticks, None);
        assert_eq!(serde_json::to_value(&old).unwrap()["owner"], v["owner"]);
        v["owner"]["start_ticks"] = 12345.into();
        let new: RunRecord = serde_json::from_value(v).unwrap();
        assert_eq!(new.owner.unwrap().start_ticks, Some(12345));
    }

    #[test]
    fn marking_interrupted() {
        let mut rec = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        rec.status = RunStatus::Running;
        rec.jobs[0].status = RunStatus::Running;
        rec.owner = Some(RunOwner {
            pid: 42,
            host: "h".into(),
            start_ticks: Some(9),
            lock: false,
        });
        let now = rec.created_at;
        assert!(rec.mark_interrupted(now));
        assert_eq!(rec.status, RunStatus::Failed);
        assert_eq!(rec.failure_kind, Some(FailureKind::Interrupted));
        assert_eq!(rec.jobs[0].failure_kind, Some(FailureKind::Interrupted));
        assert!(!rec.mark_interrupted(now));
    }
}

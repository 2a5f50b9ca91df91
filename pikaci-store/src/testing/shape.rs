//! Upstream's `run.json`, field for field and in its order (what
//! [`UpstreamRun`](super::UpstreamRun) serializes).

use serde::Serialize;

// `Option`s serialize as `null`, as upstream's did.

#[derive(Serialize)]
pub(super) struct RunShape {
    pub(super) run_id: String,
    pub(super) status: &'static str,
    pub(super) rerun_of: Option<String>,
    pub(super) target_id: Option<String>,
    pub(super) target_description: Option<String>,
    pub(super) source_root: String,
    pub(super) snapshot_dir: String,
    pub(super) git_head: Option<String>,
    pub(super) git_dirty: Option<bool>,
    pub(super) created_at: &'static str,
    pub(super) finished_at: Option<&'static str>,
    pub(super) plan_path: Option<String>,
    pub(super) prepared_outputs_path: Option<String>,
    pub(super) prepared_output_consumer: Option<&'static str>,
    pub(super) prepared_output_mode: Option<&'static str>,
    pub(super) prepared_output_invocation_mode: Option<&'static str>,
    pub(super) prepared_output_invocation_wrapper_program: Option<&'static str>,
    pub(super) prepared_output_launcher_transport_mode: Option<&'static str>,
    pub(super) prepared_output_launcher_transport_program: Option<&'static str>,
    pub(super) prepared_output_launcher_transport_host: Option<&'static str>,
    pub(super) prepared_output_launcher_transport_remote_launcher_program: Option<&'static str>,
    pub(super) prepared_output_launcher_transport_remote_helper_program: Option<&'static str>,
    pub(super) prepared_output_launcher_transport_remote_work_dir: Option<&'static str>,
    pub(super) changed_files: Vec<String>,
    pub(super) filters: Vec<String>,
    pub(super) message: Option<String>,
    pub(super) prepare_timings: Vec<TimingShape>,
    pub(super) jobs: Vec<JobShape>,
}

#[derive(Serialize)]
pub(super) struct TimingShape {
    pub(super) node_id: &'static str,
    pub(super) started_at: &'static str,
    pub(super) finished_at: &'static str,
    pub(super) duration_ms: u64,
}

#[derive(Serialize)]
pub(super) struct JobShape {
    pub(super) id: String,
    pub(super) description: String,
    pub(super) status: &'static str,
    pub(super) executor: &'static str,
    pub(super) placement: Option<&'static str>,
    pub(super) runtime: Option<&'static str>,
    pub(super) plan_node_id: Option<String>,
    pub(super) timeout_secs: u64,
    pub(super) host_log_path: String,
    pub(super) guest_log_path: String,
    pub(super) started_at: &'static str,
    pub(super) finished_at: Option<&'static str>,
    pub(super) exit_code: Option<i32>,
    pub(super) message: Option<String>,
    pub(super) pre_execution_prepare_duration_ms: Option<u64>,
    pub(super) remote_linux_vm_execution: Option<VmShape>,
}

#[derive(Serialize)]
pub(super) struct VmShape {
    pub(super) backend: &'static str,
    pub(super) incus_image: Option<ImageShape>,
    pub(super) phases: Vec<PhaseShape>,
}

#[derive(Serialize)]
pub(super) struct ImageShape {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) guest_role: Option<&'static str>,
    pub(super) project: &'static str,
    pub(super) alias: &'static str,
    pub(super) fingerprint: Option<&'static str>,
}

#[derive(Serialize)]
pub(super) struct PhaseShape {
    pub(super) phase: &'static str,
    pub(super) started_at: &'static str,
    pub(super) finished_at: &'static str,
    pub(super) duration_ms: u64,
}

//! [`UpstreamRun`] and [`UpstreamJob`]: builders that write a run folder as
//! upstream's pikaci did.

use std::io;

use camino::Utf8Path;
use serde_json::Value;

use super::shape::{ImageShape, JobShape, PhaseShape, RunShape, TimingShape, VmShape};
use crate::fs::Fs;
use crate::layout::{ARTIFACTS_DIR, LogPlace, StateRoot};

/// Keys of an upstream `run.json` that this pikaci does not model; they are
/// kept in [`RunRecord::extra`](pikaci_core::RunRecord::extra).
pub const UNMODELLED_RUN_KEYS: &[&str] = &[
    "plan_path",
    "prepared_outputs_path",
    "prepared_output_consumer",
    "prepared_output_mode",
    "prepared_output_invocation_mode",
    "prepared_output_invocation_wrapper_program",
    "prepared_output_launcher_transport_mode",
    "prepared_output_launcher_transport_program",
    "prepared_output_launcher_transport_host",
    "prepared_output_launcher_transport_remote_launcher_program",
    "prepared_output_launcher_transport_remote_helper_program",
    "prepared_output_launcher_transport_remote_work_dir",
    "prepare_timings",
];

/// Keys of an upstream job record that this pikaci does not model; they are
/// kept in [`JobRecord::extra`](pikaci_core::JobRecord::extra).
pub const UNMODELLED_JOB_KEYS: &[&str] = &[
    "placement",
    "runtime",
    "plan_node_id",
    "pre_execution_prepare_duration_ms",
];

/// Every VM phase name upstream's pikaci wrote, in its order.
pub const UPSTREAM_VM_PHASES: &[&str] = &[
    "prepare_directories",
    "stage_workspace_snapshot",
    "prepare_runtime",
    "launch_guest",
    "wait_for_completion",
    "collect_artifacts",
];

/// One job of an [`UpstreamRun`].
#[derive(Debug, Clone)]
pub struct UpstreamJob {
    id: String,
    status: &'static str,
    executor: &'static str,
    exit_code: Option<i32>,
    message: Option<String>,
    finished: bool,
    vm: bool,
    host_log: Option<Vec<u8>>,
    guest_log: Option<Vec<u8>>,
}

impl UpstreamJob {
    /// A job `id` that passed on the host (`host_local`), with a host log
    /// and a guest log (in `artifacts/`).
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            status: "passed",
            executor: "host_local",
            exit_code: Some(0),
            message: Some("test passed".to_owned()),
            finished: true,
            vm: false,
            host_log: Some(format!("[pikaci] job {id} started\n").into_bytes()),
            guest_log: Some(format!("output of {id}\n").into_bytes()),
        }
    }

    /// Ran in upstream's Incus VM path: executor `remote_linux_vm`, placement
    /// `remote_ssh`, runtime `incus`, and a `remote_linux_vm_execution` with
    /// every upstream phase and an `incus_image`.
    pub fn remote_vm(mut self) -> Self {
        self.executor = "remote_linux_vm";
        self.vm = true;
        self
    }

    /// Failed with `exit_code`.
    pub fn failed(mut self, exit_code: i32) -> Self {
        self.status = "failed";
        self.exit_code = Some(exit_code);
        self.message = Some(format!("test command exited with {exit_code}"));
        self
    }

    /// Still running: `finished_at`, `exit_code` and `message` are `null`.
    pub fn running(mut self) -> Self {
        self.status = "running";
        self.exit_code = None;
        self.message = None;
        self.finished = false;
        self
    }

    /// The guest log's content (written at `artifacts/guest.log`); `None`
    /// writes no guest log.
    pub fn guest_log(mut self, bytes: Option<&[u8]>) -> Self {
        self.guest_log = bytes.map(<[u8]>::to_vec);
        self
    }

    /// The host log's content; `None` writes no host log.
    pub fn host_log(mut self, bytes: Option<&[u8]>) -> Self {
        self.host_log = bytes.map(<[u8]>::to_vec);
        self
    }
}

/// A run folder as upstream's pikaci wrote it. See the module docs.
#[derive(Debug, Clone)]
pub struct UpstreamRun {
    run_id: String,
    status: &'static str,
    rerun_of: Option<String>,
    jobs: Vec<UpstreamJob>,
}

/// When upstream's runs here start: chrono's `to_rfc3339()`, nanoseconds and `+00:00`.
const T0: &str = "2026-03-24T16:22:38.512034117+00:00";
const T1: &str = "2026-03-24T16:22:59.004211934+00:00";
const T2: &str = "2026-03-24T16:46:30.771502386+00:00";
const T3: &str = "2026-03-24T16:47:09.100000001+00:00";

impl UpstreamRun {
    /// A finished, failed run `run_id` (any safe id: upstream's own were
    /// timestamped, hand-made ones like `pikaci-run-123` were not) of two
    /// jobs: `check-pika-rust` passed in a VM, `check-notifications` failed
    /// on the host with exit code 101.
    pub fn new(run_id: &str) -> Self {
        Self {
            run_id: run_id.to_owned(),
            status: "failed",
            rerun_of: None,
            jobs: vec![
                UpstreamJob::new("check-pika-rust").remote_vm(),
                UpstreamJob::new("check-notifications").failed(101),
            ],
        }
    }

    /// Replaces the jobs.
    pub fn jobs(mut self, jobs: Vec<UpstreamJob>) -> Self {
        self.jobs = jobs;
        self
    }

    /// Still running (`finished_at` is `null`).
    pub fn running(mut self) -> Self {
        self.status = "running";
        self
    }

    /// A rerun of `run`.
    pub fn rerun_of(mut self, run: &str) -> Self {
        self.rerun_of = Some(run.to_owned());
        self
    }

    /// The run's `run.json` as upstream wrote it, for a state root at `root`.
    pub fn record(&self, root: &StateRoot) -> Value {
        serde_json::to_value(self.shape(root)).expect("the record serializes")
    }

    /// Writes the run folder under `root` through `fs`, and returns the
    /// record written.
    pub fn write<F: Fs + ?Sized>(&self, fs: &F, root: &StateRoot) -> io::Result<Value> {
        let record = self.shape(root);
        let mut bytes = serde_json::to_vec_pretty(&record).map_err(io::Error::other)?;
        bytes.push(b'\n');
        let run_dir = root.runs_dir().join(&self.run_id);
        fs.write_atomic(&run_dir.join("run.json"), &bytes)?;
        fs.write_atomic(
            &run_dir.join("plan.json"),
            br#"{"schema_version":1,"nodes":[]}"#,
        )?;
        fs.write_atomic(
            &run_dir.join("prepared-outputs.json"),
            br#"{"schema_version":1,"outputs":[]}"#,
        )?;
        fs.write_atomic(&run_dir.join("snapshot/README.md"), b"upstream snapshot\n")?;
        for (job, shape) in self.jobs.iter().zip(&record.jobs) {
            let job_dir = run_dir.join("jobs").join(&job.id);
            fs.create_dir_all(&job_dir.join(ARTIFACTS_DIR))?;
            let status = serde_json::to_vec_pretty(shape).map_err(io::Error::other)?;
            fs.write_atomic(&job_dir.join("status.json"), &status)?;
            if let Some(log) = &job.host_log {
                fs.write_atomic(&job_dir.join("host.log"), log)?;
            }
            if let Some(log) = &job.guest_log {
                fs.write_atomic(&job_dir.join(ARTIFACTS_DIR).join("guest.log"), log)?;
            }
            if job.finished {
                let result = serde_json::json!({
                    "status": job.status,
                    "exit_code": job.exit_code,
                    "finished_at": T2,
                    "message": job.message,
                });
                fs.write_atomic(
                    &job_dir.join(ARTIFACTS_DIR).join("result.json"),
                    result.to_string().as_bytes(),
                )?;
            }
        }
        serde_json::to_value(record).map_err(io::Error::other)
    }

    fn shape(&self, root: &StateRoot) -> RunShape {
        let run_dir = root.runs_dir().join(&self.run_id);
        let finished = self.status != "running";
        RunShape {
            run_id: self.run_id.clone(),
            status: self.status,
            rerun_of: self.rerun_of.clone(),
            target_id: Some("pre-merge-pika-rust".into()),
            target_description: Some("Run the pre-merge Rust lane in a remote Linux VM".into()),
            source_root: "/var/lib/pika-news/worktrees/tmp.Xa91/pika".into(),
            snapshot_dir: run_dir.join("snapshot").into_string(),
            git_head: Some("7ee67b97888277e02a0d1e86653df7ddfee266c9".into()),
            git_dirty: Some(false),
            created_at: T0,
            finished_at: finished.then_some(T3),
            plan_path: Some(run_dir.join("plan.json").into_string()),
            prepared_outputs_path: Some(run_dir.join("prepared-outputs.json").into_string()),
            prepared_output_consumer: Some("fulfill_request_cli_v1"),
            prepared_output_mode: Some("fulfill_request_cli_v1"),
            prepared_output_invocation_mode: Some("external_wrapper_command_v1"),
            prepared_output_invocation_wrapper_program: Some(
                "/run/current-system/sw/bin/pikaci-launch-fulfill-prepared-output",
            ),
            prepared_output_launcher_transport_mode: Some("ssh_launcher_transport_v1"),
            prepared_output_launcher_transport_program: None,
            prepared_output_launcher_transport_host: Some("pika-build"),
            prepared_output_launcher_transport_remote_launcher_program: Some(
                "/run/current-system/sw/bin/pikaci-launch-fulfill-prepared-output",
            ),
            prepared_output_launcher_transport_remote_helper_program: Some(
                "/run/current-system/sw/bin/pikaci-fulfill-prepared-output",
            ),
            prepared_output_launcher_transport_remote_work_dir: Some(
                "/var/tmp/pikaci-prepared-output",
            ),
            changed_files: vec!["crates/pikaci/src/main.rs".into()],
            filters: vec![],
            message: finished.then(|| "1 of 2 jobs failed".to_owned()),
            prepare_timings: vec![TimingShape {
                node_id: "prepare-pre-merge-pika-rust-workspace-deps",
                started_at: T0,
                finished_at: T1,
                duration_ms: 20_492,
            }],
            jobs: self
                .jobs
                .iter()
                .map(|j| j.shape(root, &self.run_id))
                .collect(),
        }
    }
}

impl UpstreamJob {
    fn shape(&self, root: &StateRoot, run_id: &str) -> JobShape {
        let job_dir = root.runs_dir().join(run_id).join("jobs").join(&self.id);
        let guest = LogPlace::Artifacts.file_name(pikaci_core::LogFile::Guest);
        JobShape {
            id: self.id.clone(),
            description: format!("{} tests", self.id),
            status: self.status,
            executor: self.executor,
            placement: Some(if self.vm { "remote_ssh" } else { "local" }),
            runtime: Some(if self.vm { "incus" } else { "host_process" }),
            plan_node_id: Some(format!("execute-{}", self.id)),
            timeout_secs: 1800,
            host_log_path: job_dir.join("host.log").into_string(),
            guest_log_path: job_dir.join(Utf8Path::new(&guest)).into_string(),
            started_at: T1,
            finished_at: self.finished.then_some(T2),
            exit_code: self.exit_code,
            message: self.message.clone(),
            pre_execution_prepare_duration_ms: Some(20_492),
            remote_linux_vm_execution: self.vm.then(|| VmShape {
                backend: "incus",
                incus_image: Some(ImageShape {
                    guest_role: Some("pikaci-runner"),
                    project: "pika-managed-agents",
                    alias: "pikaci/dev",
                    fingerprint: None,
                }),
                phases: UPSTREAM_VM_PHASES
                    .iter()
                    .map(|phase| PhaseShape {
                        phase,
                        started_at: T1,
                        finished_at: T2,
                        duration_ms: 1_411_767,
                    })
                    .collect(),
            }),
        }
    }
}

//! [`IncusExecutor`]: one job, one instance, one streamlined path.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use pikaci_core::process::exit_cleanup::{ArmedCleanup, CleanupCommand, ExitCleanup};
use pikaci_core::{ExecutorKind, FailureKind};
use pikaci_core::{
    engine::{Executor, JobContext, JobOutcome},
    process::JobCgroups,
};

use super::cleanup::{CleanupGuard, DeleteLater};
use super::recorder::Recorder;
use super::steps::{Steps, Stop};
use crate::command::IncusCommand;
use crate::config::IncusConfig;
use crate::error::IncusError;
use crate::name::InstanceName;
use crate::plan::{GuestLaunch, Planner, artifacts_dir};
use crate::runner::{CommandRunner, ProcessRunner};
use crate::settings::{IncusSettings, Transfer};

/// Runs jobs in Incus virtual machines or system containers.
///
/// For each job: delete a stale instance of the same name; in mount mode make
/// an empty artifacts folder and `init` with the read-only disk devices; in
/// push mode `init` bare; `start`; for a VM wait until `exec -- true`
/// succeeds (bounded); in push mode copy the snapshot in; run
/// `pikaci-incus-run` with its output streamed into `guest.log`; read
/// `result.json`; and `delete --force` on every path out. The delete is
/// left in [`JobContext::deferred`]: the engine records the job's result
/// first and runs the delete beside the next job (a caller without an
/// engine runs it with [`Deferred::run`](pikaci_core::engine::Deferred::run);
/// dropped unrun, it starts detached). With
/// [`cleanup_on_exit`](Self::cleanup_on_exit), that delete also happens when
/// pikaci is killed mid-job or mid-delete.
#[derive(Clone)]
pub struct IncusExecutor {
    settings: Arc<IncusSettings>,
    runner: Arc<dyn CommandRunner>,
    exit_cleanup: Option<ExitCleanup>,
    cgroups: JobCgroups,
}

impl std::fmt::Debug for IncusExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncusExecutor")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl IncusExecutor {
    /// Whether jobs with this `executor` run in Incus: `incus`, and
    /// `remote_linux_vm`, the earlier pikaci's name for the same path. Known
    /// before an executor is built, so a caller can build one only when a
    /// job needs it.
    pub fn serves_kind(kind: &ExecutorKind) -> bool {
        matches!(kind, ExecutorKind::Incus | ExecutorKind::RemoteLinuxVm)
    }

    /// An executor running real processes.
    pub fn new(settings: IncusSettings) -> Self {
        Self::with_runner(settings, Arc::new(ProcessRunner))
    }

    /// The executor a pipeline's `[incus]` table asks for: settings resolved
    /// from `config` and the environment (`env` is the process environment,
    /// e.g. `std::env::vars().collect()`), real processes.
    pub fn from_config(
        config: &IncusConfig,
        env: &BTreeMap<String, String>,
    ) -> Result<Self, IncusError> {
        Ok(Self::new(IncusSettings::resolve(config, env)?))
    }

    /// An executor running commands through `runner`.
    pub fn with_runner(settings: IncusSettings, runner: Arc<dyn CommandRunner>) -> Self {
        Self {
            settings: Arc::new(settings),
            runner,
            exit_cleanup: None,
            cgroups: JobCgroups::Off,
        }
    }

    /// Gives each job a cgroup of its own from `cgroups`, where the local
    /// `incus exec` of its launch runs (the command itself runs in its
    /// instance's cgroup); ended and removed when the job is over.
    pub fn cgroups(mut self, cgroups: JobCgroups) -> Self {
        self.cgroups = cgroups;
        self
    }

    /// Arms `watcher` for each job before its instance is made: if pikaci
    /// ends (SIGKILL included) before the job's cleanup ran, the watcher
    /// deletes the instance (and its artifacts folder), which also ends the
    /// job's command in it. See [`pikaci_core::process::exit_cleanup`].
    pub fn cleanup_on_exit(mut self, watcher: ExitCleanup) -> Self {
        self.exit_cleanup = Some(watcher);
        self
    }

    /// The settings.
    pub fn settings(&self) -> &IncusSettings {
        &self.settings
    }

    async fn run_job(&self, ctx: JobContext<'_>) -> JobOutcome {
        let JobContext {
            run_id,
            job,
            workspace,
            host_log,
            guest_log,
            timeout,
            cancel,
            clock,
            deferred,
            ..
        } = ctx;
        let s = &*self.settings;
        let instance = InstanceName::for_job(&s.instance_prefix, run_id, &job.id);
        let artifacts = artifacts_dir(s, &instance);
        let planner = Planner::new(s, &instance);
        let mut rec = Recorder::new(host_log, clock);
        rec.line(&format!(
            "incus executor: job `{}` of run {run_id} in {} {instance} on {} (project {}, image {}, {})",
            job.id,
            s.instance_type.incus_name(),
            s.server(),
            s.project,
            s.image_alias,
            match s.transfer() {
                Transfer::Mounts => "folders mounted read-only",
                Transfer::Push => "folders pushed into the instance",
            }
        ));
        let mut outcome = match GuestLaunch::for_job(job) {
            Err(e) => JobOutcome::failed(FailureKind::Infrastructure, None, e.to_string()),
            Ok(mut launch) => {
                // The engine's timeout is the one that counts; the guest enforces it.
                launch.timeout_secs = timeout.as_secs().max(1);
                let mut cleanup = vec![planner.delete()];
                cleanup.extend(artifacts.as_deref().map(|a| planner.remove_artifacts(a)));
                let armed = self.arm_exit_cleanup(&cleanup, &mut rec);
                let guard = CleanupGuard::new(Arc::clone(&self.runner), cleanup);
                let (cgroup, said) = self.cgroups.create(run_id, &job.id);
                if let Some(said) = said {
                    rec.line(&said);
                }
                let steps = Steps {
                    runner: &*self.runner,
                    settings: s,
                    planner,
                    job,
                    workspace,
                    artifacts: artifacts.as_deref(),
                    launch,
                    timeout,
                    cancel: &cancel,
                    cgroup: cgroup.as_ref(),
                };
                // The steps watch the cancel themselves: the guest's launch
                // is stopped gracefully, so the job's TERM trap runs.
                let result = steps.run(&mut rec, guest_log).await;
                if let Some(group) = cgroup {
                    // The launch is over: nothing of the job runs here.
                    let _ = group.kill();
                    let _ = group.remove();
                }
                let outcome = match result {
                    Ok(outcome) => outcome,
                    Err(Stop::Cancelled) => {
                        let during = rec
                            .current()
                            .map(|p| format!(" during {p}"))
                            .unwrap_or_default();
                        rec.line(&format!("cancelled{during}"));
                        JobOutcome::failed(
                            FailureKind::Cancelled,
                            None,
                            format!("cancelled{during}"),
                        )
                    }
                    Err(Stop::Infrastructure(message)) => {
                        rec.line(&format!("infrastructure failure: {message}"));
                        JobOutcome::failed(FailureKind::Infrastructure, None, message)
                    }
                };
                // The delete runs once the result is recorded, beside the
                // next job; the watcher stays armed until it is done.
                deferred.defer(Box::new(DeleteLater {
                    guard,
                    armed,
                    limit: s.command_timeout,
                }));
                outcome
            }
        };
        outcome.remote_linux_vm_execution = Some(rec.execution());
        rec.line(&format!(
            "job `{}` {}{}",
            job.id,
            outcome.status,
            outcome
                .failure_kind
                .map(|k| format!(" ({k})"))
                .unwrap_or_default()
        ));
        outcome
    }
}

impl IncusExecutor {
    /// Starts the exit-cleanup watcher with `cleanup`, when one is set; a
    /// watcher that cannot start is noted in the host log (the job still
    /// runs, cleaned up as usual unless pikaci is killed).
    fn arm_exit_cleanup(
        &self,
        cleanup: &[IncusCommand],
        rec: &mut Recorder<'_>,
    ) -> Option<ArmedCleanup> {
        let watcher = self.exit_cleanup.as_ref()?;
        let commands = cleanup
            .iter()
            .map(|c| CleanupCommand {
                program: c.program.clone(),
                args: c.args.clone(),
                env: c.env.clone(),
            })
            .collect();
        match watcher.arm(commands, self.settings.command_timeout) {
            Ok(armed) => Some(armed),
            Err(e) => {
                rec.line(&format!(
                    "could not start the watcher that deletes the instance if pikaci is killed: {e}"
                ));
                None
            }
        }
    }
}

impl Executor for IncusExecutor {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Incus
    }

    fn serves(&self, kind: &ExecutorKind) -> bool {
        Self::serves_kind(kind)
    }

    fn execute<'a>(&'a self, ctx: JobContext<'a>) -> BoxFuture<'a, JobOutcome> {
        Box::pin(self.run_job(ctx))
    }
}

#[cfg(test)]
#[path = "job_tests.rs"]
mod tests;

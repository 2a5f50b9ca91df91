//! [`plan_job`]: every step of one job, in order, as `pikaci incus plan`
//! prints it.

use std::fmt;

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::{JobSpec, RunId};

use super::devices::{GuestLaunch, artifacts_dir, devices, pushed_trees};
use super::phase::Phase;
use super::planner::Planner;
use crate::command::IncusCommand;
use crate::config::InstanceType;
use crate::error::IncusError;
use crate::guest::{GUEST_LOG_FILE, RESULT_FILE};
use crate::name::InstanceName;
use crate::settings::IncusSettings;

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStep {
    /// The phase it belongs to.
    pub phase: Phase,
    /// The command.
    pub command: IncusCommand,
    /// How the executor treats it, when that is not "must succeed once".
    pub note: Option<&'static str>,
}

/// Everything `pikaci incus plan` shows for one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPlan {
    /// The instance name.
    pub instance: InstanceName,
    /// The host folder mounted at `/artifacts` (mount mode; in push mode
    /// `/artifacts` only exists in the guest).
    pub artifacts_dir: Option<Utf8PathBuf>,
    /// The steps in order.
    pub steps: Vec<PlannedStep>,
}

/// The exact commands the executor would run for `job` of `run`, with the
/// snapshot at `workspace`, without running anything.
pub fn plan_job(
    settings: &IncusSettings,
    run: &RunId,
    job: &JobSpec,
    workspace: &Utf8Path,
) -> Result<JobPlan, IncusError> {
    let instance = InstanceName::for_job(&settings.instance_prefix, run, &job.id);
    let launch = GuestLaunch::for_job(job)?;
    let p = Planner::new(settings, &instance);
    let mut steps = Vec::new();
    let mut step = |phase, command, note| {
        steps.push(PlannedStep {
            phase,
            command,
            note,
        });
    };
    step(
        Phase::DeleteStale,
        p.delete(),
        Some("an instance that does not exist is fine"),
    );
    let artifacts = artifacts_dir(settings, &instance);
    match &artifacts {
        Some(dir) => {
            for c in p.prepare_artifacts(dir) {
                step(Phase::PrepareArtifacts, c, None);
            }
            let devs = devices(settings, workspace, dir, job.writable_workspace);
            step(Phase::InitInstance, p.init(&devs), None);
        }
        None => step(Phase::InitInstance, p.init(&[]), None),
    }
    step(Phase::StartInstance, p.start(), None);
    if settings.instance_type == InstanceType::Vm {
        step(
            Phase::WaitReady,
            p.probe(),
            Some("repeated until it succeeds, up to the readiness timeout"),
        );
    }
    if artifacts.is_none() {
        for tree in pushed_trees(settings, workspace, job.writable_workspace) {
            step(Phase::PushFiles, p.push(&tree), None);
        }
    }
    step(
        Phase::LaunchGuest,
        p.launch(&launch),
        Some("output streamed to guest.log"),
    );
    step(
        Phase::CollectArtifacts,
        p.read_artifact(artifacts.as_deref(), RESULT_FILE),
        None,
    );
    step(
        Phase::CollectArtifacts,
        p.read_artifact(artifacts.as_deref(), GUEST_LOG_FILE),
        Some("used when the streamed output was lost"),
    );
    step(
        Phase::DeleteInstance,
        p.delete(),
        Some("always, also after failure, timeout or cancel"),
    );
    if let Some(dir) = &artifacts {
        step(Phase::DeleteInstance, p.remove_artifacts(dir), None);
    }
    Ok(JobPlan {
        instance,
        artifacts_dir: artifacts,
        steps,
    })
}

impl fmt::Display for JobPlan {
    /// One `# phase` comment per step and the shell-quoted command under it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "# instance {}", self.instance)?;
        match &self.artifacts_dir {
            Some(dir) => writeln!(f, "# artifacts {dir}")?,
            None => writeln!(
                f,
                "# artifacts only in the guest (files are pushed, result.json is pulled)"
            )?,
        }
        for s in &self.steps {
            match s.note {
                Some(note) => writeln!(f, "# {} ({note})", s.phase)?,
                None => writeln!(f, "# {}", s.phase)?,
            }
            writeln!(f, "{}", s.command.display())?;
        }
        Ok(())
    }
}

//! Pure builders for every step of one job's Incus run, and [`plan_job`],
//! the whole list as `pikaci incus plan` prints it.
//!
//! Each builder returns the finished command: the `incus` argv with the
//! client environment, wrapped for `sudo` and `ssh` as the settings say.

use std::fmt;

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::contract::shell_quote;
use pikaci_core::{JobSpec, RunId};

use crate::command::IncusCommand;
use crate::error::IncusError;
use crate::guest::{
    ARTIFACTS_PATH, ENV_GUEST_COMMAND, ENV_RUN_AS_ROOT, ENV_TIMEOUT_SECS, GUEST_BINARY,
    GUEST_LOG_FILE, RESULT_FILE, SNAPSHOT_PATH, STAGED_BUILD_PATH, STAGED_DEPS_PATH,
};
use crate::name::InstanceName;
use crate::settings::IncusSettings;

/// The timed phases of one job, as recorded in `remote_linux_vm_execution`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Delete a leftover instance of the same name.
    DeleteStale,
    /// Make an empty artifacts folder for `/artifacts`.
    PrepareArtifacts,
    /// `incus init --vm`.
    InitInstance,
    /// `incus config device add` for each mount.
    AddDevices,
    /// `incus start`.
    StartInstance,
    /// Probe with `exec -- true` until the guest agent answers.
    WaitReady,
    /// Run `pikaci-incus-run` in the guest.
    LaunchGuest,
    /// Read `result.json` (and `guest.log`) from `/artifacts`.
    CollectArtifacts,
    /// `incus delete --force` and removal of the artifacts folder.
    DeleteInstance,
}

impl Phase {
    /// The name recorded in `run.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeleteStale => "delete_stale",
            Self::PrepareArtifacts => "prepare_artifacts",
            Self::InitInstance => "init_instance",
            Self::AddDevices => "add_devices",
            Self::StartInstance => "start_instance",
            Self::WaitReady => "wait_ready",
            Self::LaunchGuest => "launch_guest",
            Self::CollectArtifacts => "collect_artifacts",
            Self::DeleteInstance => "delete_instance",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One disk device: a host folder shared into the guest over virtiofs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskDevice {
    /// The Incus device name.
    pub name: &'static str,
    /// The host folder.
    pub source: Utf8PathBuf,
    /// Where it appears in the guest.
    pub path: &'static str,
    /// Whether the guest may only read it.
    pub readonly: bool,
}

/// What the guest binary is told to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestLaunch {
    /// The shell command (with the job's `env` exported first, if any).
    pub command: String,
    /// The job timeout in seconds.
    pub timeout_secs: u64,
    /// Run as root instead of `pikaci`.
    pub run_as_root: bool,
}

impl GuestLaunch {
    /// The launch of `job`. The job's `env` becomes `export K='V'` lines in
    /// front of the command, so the launch command keeps its fixed shape.
    pub fn for_job(job: &JobSpec) -> Result<Self, IncusError> {
        let mut command = String::new();
        for (key, value) in &job.env {
            let valid = key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(IncusError::InvalidJobEnv {
                    job: job.id.to_string(),
                    key: key.chars().take(80).collect(),
                });
            }
            command.push_str(&format!("export {key}={}\n", shell_quote(value)));
        }
        command.push_str(&job.command);
        Ok(Self {
            command,
            timeout_secs: job.timeout_secs,
            run_as_root: job.run_as_root,
        })
    }
}

/// The devices of a job: the snapshot (read-only unless the job has a
/// writable workspace), the staged outputs when configured (read-only), and
/// the writable artifacts folder.
pub fn devices(
    settings: &IncusSettings,
    workspace: &Utf8Path,
    artifacts_dir: &Utf8Path,
    writable_workspace: bool,
) -> Vec<DiskDevice> {
    let mut out = vec![DiskDevice {
        name: "workspace-snapshot",
        source: workspace.to_owned(),
        path: SNAPSHOT_PATH,
        readonly: !writable_workspace,
    }];
    if let Some(dir) = &settings.staged_deps_dir {
        out.push(DiskDevice {
            name: "staged-deps",
            source: dir.clone(),
            path: STAGED_DEPS_PATH,
            readonly: true,
        });
    }
    if let Some(dir) = &settings.staged_build_dir {
        out.push(DiskDevice {
            name: "staged-build",
            source: dir.clone(),
            path: STAGED_BUILD_PATH,
            readonly: true,
        });
    }
    out.push(DiskDevice {
        name: "artifacts",
        source: artifacts_dir.to_owned(),
        path: ARTIFACTS_PATH,
        readonly: false,
    });
    out
}

/// The host folder mounted at `/artifacts` for `instance`.
pub fn artifacts_dir(settings: &IncusSettings, instance: &InstanceName) -> Utf8PathBuf {
    settings.artifacts_root.join(instance.as_str())
}

/// Builds the commands for one instance.
#[derive(Debug, Clone, Copy)]
pub struct Planner<'a> {
    settings: &'a IncusSettings,
    instance: &'a InstanceName,
}

impl<'a> Planner<'a> {
    /// A planner for `instance` under `settings`.
    pub fn new(settings: &'a IncusSettings, instance: &'a InstanceName) -> Self {
        Self { settings, instance }
    }

    /// `incus SUB... --project P ARGS...`, with client env, wrapped.
    fn incus(&self, sub: &[&str], rest: Vec<String>) -> IncusCommand {
        incus(self.settings, sub, rest)
    }

    fn name(&self) -> String {
        self.instance.to_string()
    }

    /// A host command (`mkdir`, `rm`), wrapped like the Incus commands so it
    /// runs where Incus runs.
    fn host(&self, program: &str, args: &[&str]) -> IncusCommand {
        IncusCommand::new(program, args.iter().copied())
            .wrap(self.settings.sudo, self.settings.remote_host.as_deref())
    }

    /// `incus delete --project P NAME --force`: used for a stale instance
    /// (which usually does not exist) and for the final delete.
    pub fn delete(&self) -> IncusCommand {
        self.incus(&["delete"], vec![self.name(), "--force".into()])
    }

    /// `rm -rf -- DIR`, then `mkdir -p -- DIR`: an empty artifacts folder.
    pub fn prepare_artifacts(&self, dir: &Utf8Path) -> [IncusCommand; 2] {
        [
            self.remove_artifacts(dir),
            self.host("mkdir", &["-p", "--", dir.as_str()]),
        ]
    }

    /// `rm -rf -- DIR`.
    pub fn remove_artifacts(&self, dir: &Utf8Path) -> IncusCommand {
        self.host("rm", &["-rf", "--", dir.as_str()])
    }

    /// `incus init --project P IMAGE NAME --vm --storage S --profile default
    /// --profile PROFILE [-c limits.cpu=N] [-c limits.memory=M] [--target T]`.
    pub fn init(&self) -> IncusCommand {
        let s = self.settings;
        let mut rest = vec![
            s.image_alias.clone(),
            self.name(),
            "--vm".into(),
            "--storage".into(),
            s.storage_pool.clone(),
            "--profile".into(),
            "default".into(),
            "--profile".into(),
            s.profile.clone(),
        ];
        if let Some(cpu) = s.cpu {
            rest.extend(["-c".into(), format!("limits.cpu={cpu}")]);
        }
        if let Some(mem) = &s.memory {
            rest.extend(["-c".into(), format!("limits.memory={mem}")]);
        }
        if let Some(target) = &s.target {
            rest.extend(["--target".into(), target.clone()]);
        }
        self.incus(&["init"], rest)
    }

    /// `incus config device add --project P NAME DEV disk source=.. path=..
    /// [readonly=true] io.bus=virtiofs shift=false`.
    pub fn add_disk(&self, dev: &DiskDevice) -> IncusCommand {
        let mut rest = vec![
            self.name(),
            dev.name.into(),
            "disk".into(),
            format!("source={}", dev.source),
            format!("path={}", dev.path),
        ];
        if dev.readonly {
            rest.push("readonly=true".into());
        }
        rest.extend(["io.bus=virtiofs".into(), "shift=false".into()]);
        self.incus(&["config", "device", "add"], rest)
    }

    /// `incus start --project P NAME`.
    pub fn start(&self) -> IncusCommand {
        self.incus(&["start"], vec![self.name()])
    }

    /// `incus exec --project P NAME -- true`: succeeds once the agent answers.
    pub fn probe(&self) -> IncusCommand {
        self.incus(&["exec"], vec![self.name(), "--".into(), "true".into()])
    }

    /// `incus exec --project P NAME -- env PIKACI_INCUS_GUEST_COMMAND=<cmd>
    /// PIKACI_INCUS_TIMEOUT_SECS=<n> PIKACI_INCUS_RUN_AS_ROOT=<0|1>
    /// /run/current-system/sw/bin/pikaci-incus-run`.
    pub fn launch(&self, launch: &GuestLaunch) -> IncusCommand {
        let root = if launch.run_as_root { "1" } else { "0" };
        self.incus(
            &["exec"],
            vec![
                self.name(),
                "--".into(),
                "env".into(),
                format!("{ENV_GUEST_COMMAND}={}", launch.command),
                format!("{ENV_TIMEOUT_SECS}={}", launch.timeout_secs),
                format!("{ENV_RUN_AS_ROOT}={root}"),
                GUEST_BINARY.into(),
            ],
        )
    }

    /// `incus file pull --project P NAME/artifacts/FILE -`: the file on stdout.
    pub fn pull(&self, file: &str) -> IncusCommand {
        self.incus(
            &["file", "pull"],
            vec![
                format!("{}{ARTIFACTS_PATH}/{file}", self.instance),
                "-".into(),
            ],
        )
    }

    /// Pulls `/artifacts/result.json`.
    pub fn pull_result(&self) -> IncusCommand {
        self.pull(RESULT_FILE)
    }

    /// Pulls `/artifacts/guest.log`.
    pub fn pull_guest_log(&self) -> IncusCommand {
        self.pull(GUEST_LOG_FILE)
    }
}

fn incus(settings: &IncusSettings, sub: &[&str], rest: Vec<String>) -> IncusCommand {
    let mut args: Vec<String> = sub.iter().map(|s| (*s).to_owned()).collect();
    args.extend(["--project".to_owned(), settings.project.clone()]);
    args.extend(rest);
    let mut cmd = IncusCommand::new(settings.program.clone(), args);
    cmd.env = settings.client_env.clone();
    cmd.wrap(settings.sudo, settings.remote_host.as_deref())
}

/// `incus list --project P --format json`: what `gc` reads.
pub fn list_command(settings: &IncusSettings) -> IncusCommand {
    incus(settings, &["list"], vec!["--format".into(), "json".into()])
}

/// `incus delete --project P NAME --force` for any instance (used by `gc`).
pub fn delete_command(settings: &IncusSettings, instance: &InstanceName) -> IncusCommand {
    Planner::new(settings, instance).delete()
}

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
    /// The host folder mounted at `/artifacts`.
    pub artifacts_dir: Utf8PathBuf,
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
    let artifacts = artifacts_dir(settings, &instance);
    let launch = GuestLaunch::for_job(job)?;
    let p = Planner::new(settings, &instance);
    let step = |phase, command, note| PlannedStep {
        phase,
        command,
        note,
    };
    let mut steps = vec![step(
        Phase::DeleteStale,
        p.delete(),
        Some("an instance that does not exist is fine"),
    )];
    for c in p.prepare_artifacts(&artifacts) {
        steps.push(step(Phase::PrepareArtifacts, c, None));
    }
    steps.push(step(Phase::InitInstance, p.init(), None));
    for dev in devices(settings, workspace, &artifacts, job.writable_workspace) {
        steps.push(step(Phase::AddDevices, p.add_disk(&dev), None));
    }
    steps.push(step(Phase::StartInstance, p.start(), None));
    steps.push(step(
        Phase::WaitReady,
        p.probe(),
        Some("repeated until it succeeds, up to the readiness timeout"),
    ));
    steps.push(step(
        Phase::LaunchGuest,
        p.launch(&launch),
        Some("output streamed to guest.log"),
    ));
    steps.push(step(Phase::CollectArtifacts, p.pull_result(), None));
    steps.push(step(
        Phase::CollectArtifacts,
        p.pull_guest_log(),
        Some("used when the streamed output was lost"),
    ));
    steps.push(step(
        Phase::DeleteInstance,
        p.delete(),
        Some("always, also after failure, timeout or cancel"),
    ));
    steps.push(step(
        Phase::DeleteInstance,
        p.remove_artifacts(&artifacts),
        None,
    ));
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
        writeln!(f, "# artifacts {}", self.artifacts_dir)?;
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

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

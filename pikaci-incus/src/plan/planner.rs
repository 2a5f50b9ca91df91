//! [`Planner`]: pure builders for every command of one job's instance.
//!
//! Each builder returns the finished command: the `incus` argv with the
//! client environment, wrapped for `sudo` and `ssh` as the settings say, with
//! `REMOTE:` in front of the image and the instance when a remote is set.

use camino::Utf8Path;

use super::devices::{DiskDevice, GuestLaunch, PushedTree};
use crate::command::{IncusCommand, Stdin};
use crate::config::InstanceType;
use crate::guest::{
    ARTIFACTS_PATH, ENV_GUEST_COMMAND, ENV_RUN_AS_ROOT, ENV_TIMEOUT_SECS, GUEST_BINARY,
};
use crate::name::InstanceName;
use crate::settings::IncusSettings;

/// The guest side of a push: unpack the archive read on stdin into `$1`, then
/// make it read-only with a bind mount over itself when `$2` is `ro`.
/// `/artifacts` is made on the way.
const UNPACK_SCRIPT: &str = "set -e; mkdir -p -- /artifacts \"$1\"; tar -xf - -C \"$1\"; \
     if [ \"$2\" = ro ]; then mount --bind \"$1\" \"$1\"; mount -o remount,bind,ro \"$1\"; fi";

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

    /// The instance as the client addresses it (`REMOTE:NAME` with a remote).
    fn name(&self) -> String {
        self.settings.on_remote(self.instance.as_str())
    }

    /// A host command (`mkdir`, `rm`, `cat`) on the artifacts folder, with
    /// `sudo` when the settings say so (mount mode: Incus runs here).
    fn host(&self, program: &str, args: &[&str]) -> IncusCommand {
        IncusCommand::new(program, args.iter().copied()).wrap(self.settings.sudo, None)
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

    /// `incus init --project P IMAGE NAME [--vm] --storage S --profile default
    /// --profile PROFILE -c limits.cpu=N -c limits.memory=M [--target T]`,
    /// reading the disk devices (if any) as instance configuration on stdin,
    /// so the instance is created with them in one step.
    pub fn init(&self, devices: &[DiskDevice]) -> IncusCommand {
        let s = self.settings;
        let mut rest = vec![s.on_remote(&s.image_alias), self.name()];
        if s.instance_type == InstanceType::Vm {
            rest.push("--vm".into());
        }
        rest.extend([
            "--storage".into(),
            s.storage_pool.clone(),
            "--profile".into(),
            "default".into(),
            "--profile".into(),
            s.profile.clone(),
            "-c".into(),
            format!("limits.cpu={}", s.cpu),
            "-c".into(),
            format!("limits.memory={}", s.memory),
        ]);
        if let Some(target) = &s.target {
            rest.extend(["--target".into(), target.clone()]);
        }
        let cmd = self.incus(&["init"], rest);
        if devices.is_empty() {
            return cmd;
        }
        // JSON is YAML too: the client reads either.
        let devices: serde_json::Map<String, serde_json::Value> = devices
            .iter()
            .map(|d| {
                let config = serde_json::to_value(d.config(s.instance_type))
                    .expect("a map of strings is JSON");
                (d.name.to_owned(), config)
            })
            .collect();
        let text = serde_json::to_string_pretty(&serde_json::json!({ "devices": devices }))
            .expect("a map of strings is JSON");
        cmd.with_stdin(Stdin::Text(text + "\n"))
    }

    /// `incus start --project P NAME`.
    pub fn start(&self) -> IncusCommand {
        self.incus(&["start"], vec![self.name()])
    }

    /// `incus exec --project P NAME -- true`: succeeds once the agent answers.
    pub fn probe(&self) -> IncusCommand {
        self.incus(&["exec"], vec![self.name(), "--".into(), "true".into()])
    }

    /// `tar --create ... SOURCE | incus exec --project P NAME -T -- sh -c
    /// UNPACK sh PATH ro|rw`: the tree archived here, unpacked in the guest,
    /// and made read-only there with a bind mount when it must be.
    pub fn push(&self, tree: &PushedTree) -> IncusCommand {
        let archive = IncusCommand::new(
            "tar",
            [
                "--create",
                "--file=-",
                &format!("--directory={}", tree.source),
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                ".",
            ],
        );
        let mode = if tree.readonly { "ro" } else { "rw" };
        self.incus(
            &["exec"],
            vec![
                self.name(),
                "-T".into(),
                "--".into(),
                "sh".into(),
                "-c".into(),
                UNPACK_SCRIPT.into(),
                "sh".into(),
                tree.path.into(),
                mode.into(),
            ],
        )
        .with_stdin(Stdin::Pipe(Box::new(archive)))
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

    /// Reads `/artifacts/FILE`: `cat -- DIR/FILE` on the host folder in mount
    /// mode (`artifacts` is `Some`), `incus file pull --project P
    /// NAME/artifacts/FILE -` in push mode.
    pub fn read_artifact(&self, artifacts: Option<&Utf8Path>, file: &str) -> IncusCommand {
        match artifacts {
            Some(dir) => self.host("cat", &["--", dir.join(file).as_str()]),
            None => self.incus(
                &["file", "pull"],
                vec![
                    format!("{}{ARTIFACTS_PATH}/{file}", self.name()),
                    "-".into(),
                ],
            ),
        }
    }
}

/// `incus ARGS...` with the client environment, wrapped for `sudo` and
/// `ssh` as the settings say.
pub(crate) fn client<I, S>(settings: &IncusSettings, args: I) -> IncusCommand
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut cmd = IncusCommand::new(settings.program.clone(), args);
    cmd.env = settings.client_env.clone();
    cmd.wrap(settings.sudo, settings.remote_host.as_deref())
}

/// `incus SUB... --project P REST...`, as [`client`] builds it.
fn incus(settings: &IncusSettings, sub: &[&str], rest: Vec<String>) -> IncusCommand {
    let mut args: Vec<String> = sub.iter().map(|s| (*s).to_owned()).collect();
    args.extend(["--project".to_owned(), settings.project.clone()]);
    args.extend(rest);
    client(settings, args)
}

/// `incus list --project P [REMOTE:] --format json`: what `gc` reads.
pub fn list_command(settings: &IncusSettings) -> IncusCommand {
    let mut rest = Vec::new();
    if let Some(r) = &settings.remote {
        rest.push(format!("{r}:"));
    }
    rest.extend(["--format".into(), "json".into()]);
    incus(settings, &["list"], rest)
}

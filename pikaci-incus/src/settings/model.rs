//! [`IncusSettings`]: the resolved values, their defaults, and a builder.

use std::collections::BTreeMap;
use std::time::Duration;

use camino::Utf8PathBuf;

use crate::config::InstanceType;

/// Prefix of every environment override.
pub const ENV_PREFIX: &str = "PIKACI_REMOTE_LINUX_VM_INCUS_";

/// The environment variable that overrides the `[incus]` key `key`.
pub(crate) fn env_var(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

/// Default Incus project.
pub const DEFAULT_PROJECT: &str = "pika-managed-agents";
/// Default pikaci profile (added after `default`).
pub const DEFAULT_PROFILE: &str = "pika-agent-dev";
/// Default image alias.
pub const DEFAULT_IMAGE_ALIAS: &str = "pikaci/dev";
/// Default storage pool.
pub const DEFAULT_STORAGE_POOL: &str = "default";
/// Default instance name prefix.
pub const DEFAULT_INSTANCE_PREFIX: &str = "pikaci";
/// Default `limits.cpu`.
pub const DEFAULT_CPU: u32 = 2;
/// Default `limits.memory`.
pub const DEFAULT_MEMORY: &str = "4GiB";
/// Default bound on waiting for the guest agent.
pub const DEFAULT_READINESS_TIMEOUT: Duration = Duration::from_secs(180);
/// Default bound on each command other than the launch.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(900);
/// Longest instance prefix accepted (names are at most 63 characters).
pub const MAX_PREFIX_LEN: usize = 20;

/// How the job's folders reach the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// The Incus server sees pikaci's folders: read-only disk devices.
    Mounts,
    /// The Incus server is elsewhere (`remote` or `remote_host`): the folders
    /// are pushed into the instance and `result.json` is pulled out.
    Push,
}

/// Resolved, validated Incus settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncusSettings {
    /// The `incus` client to run.
    pub program: String,
    /// `--project`.
    pub project: String,
    /// The pikaci profile, applied after `default`.
    pub profile: String,
    /// The image alias each instance is created from.
    pub image_alias: String,
    /// Virtual machine or system container.
    pub instance_type: InstanceType,
    /// Storage pool of the root disk.
    pub storage_pool: String,
    /// `limits.cpu`.
    pub cpu: u32,
    /// `limits.memory`, e.g. `8GiB`.
    pub memory: String,
    /// The Incus remote (from `incus remote add`) instances run on.
    pub remote: Option<String>,
    /// Run every command on this host over `ssh`.
    pub remote_host: Option<String>,
    /// Run every command through `sudo -n`.
    pub sudo: bool,
    /// Cluster member for `init --target`.
    pub target: Option<String>,
    /// Prefix of instance names; `gc` only touches names with it.
    pub instance_prefix: String,
    /// How long to wait for `exec -- true` to succeed after `start` (VMs).
    pub readiness_timeout: Duration,
    /// Pause between readiness probes.
    pub readiness_interval: Duration,
    /// Extra time the host gives the guest beyond the job timeout (the guest
    /// enforces the job timeout itself; this is the backstop).
    pub launch_grace: Duration,
    /// Bound on every Incus or host command other than the launch (an
    /// `init` stuck on an image download, a hung `ssh`).
    pub command_timeout: Duration,
    /// Host folder given to the guest at `/staged/linux-rust/workspace-deps`.
    pub staged_deps_dir: Option<Utf8PathBuf>,
    /// Host folder given to the guest at `/staged/linux-rust/workspace-build`.
    pub staged_build_dir: Option<Utf8PathBuf>,
    /// Folder under which each job gets the host side of `/artifacts` (mount
    /// mode only).
    pub artifacts_root: Utf8PathBuf,
    /// Environment given to every `incus` client invocation (e.g. `INCUS_CONF`).
    pub client_env: BTreeMap<String, String>,
}

impl Default for IncusSettings {
    fn default() -> Self {
        Self {
            program: "incus".into(),
            project: DEFAULT_PROJECT.into(),
            profile: DEFAULT_PROFILE.into(),
            image_alias: DEFAULT_IMAGE_ALIAS.into(),
            instance_type: InstanceType::Vm,
            storage_pool: DEFAULT_STORAGE_POOL.into(),
            cpu: DEFAULT_CPU,
            memory: DEFAULT_MEMORY.into(),
            remote: None,
            remote_host: None,
            sudo: false,
            target: None,
            instance_prefix: DEFAULT_INSTANCE_PREFIX.into(),
            readiness_timeout: DEFAULT_READINESS_TIMEOUT,
            readiness_interval: Duration::from_secs(2),
            launch_grace: Duration::from_secs(60),
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
            staged_deps_dir: None,
            staged_build_dir: None,
            artifacts_root: "/tmp/pikaci-incus".into(),
            client_env: BTreeMap::new(),
        }
    }
}

impl IncusSettings {
    /// A builder starting from the defaults.
    pub fn builder() -> IncusSettingsBuilder {
        IncusSettingsBuilder {
            settings: Self::default(),
        }
    }

    /// Whether the Incus server is not this machine (`remote` or `remote_host`).
    pub fn is_remote(&self) -> bool {
        self.remote.is_some() || self.remote_host.is_some()
    }

    /// How the job's folders reach the instance.
    pub fn transfer(&self) -> Transfer {
        if self.is_remote() {
            Transfer::Push
        } else {
            Transfer::Mounts
        }
    }

    /// `NAME` as the client addresses it: `REMOTE:NAME` with a remote.
    pub fn on_remote(&self, name: &str) -> String {
        match &self.remote {
            Some(r) => format!("{r}:{name}"),
            None => name.to_owned(),
        }
    }

    /// Where the settings point, for messages: `remote NAME`, `ssh HOST` or
    /// `the local daemon`.
    pub fn server(&self) -> String {
        match (&self.remote, &self.remote_host) {
            (Some(r), Some(h)) => format!("remote `{r}` (through ssh {h})"),
            (Some(r), None) => format!("remote `{r}`"),
            (None, Some(h)) => format!("the daemon on {h} (ssh)"),
            (None, None) => "the local daemon".to_owned(),
        }
    }
}

/// Builds [`IncusSettings`] in code (library users, tests).
#[derive(Debug, Clone)]
#[must_use]
pub struct IncusSettingsBuilder {
    settings: IncusSettings,
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: $ty:ty => |$s:ident, $v:ident| $body:expr) => {
        $(#[$doc])*
        pub fn $name(mut self, $v: $ty) -> Self {
            let $s = &mut self.settings;
            $body;
            self
        }
    };
}

impl IncusSettingsBuilder {
    setter!(/// The `incus` client program.
        program: impl Into<String> => |s, v| s.program = v.into());
    setter!(/// `--project`.
        project: impl Into<String> => |s, v| s.project = v.into());
    setter!(/// The pikaci profile.
        profile: impl Into<String> => |s, v| s.profile = v.into());
    setter!(/// The image alias.
        image_alias: impl Into<String> => |s, v| s.image_alias = v.into());
    setter!(/// Virtual machine or system container.
        instance_type: InstanceType => |s, v| s.instance_type = v);
    setter!(/// The storage pool.
        storage_pool: impl Into<String> => |s, v| s.storage_pool = v.into());
    setter!(/// `limits.cpu`.
        cpu: u32 => |s, v| s.cpu = v);
    setter!(/// `limits.memory`.
        memory: impl Into<String> => |s, v| s.memory = v.into());
    setter!(/// An Incus remote to run instances on.
        remote: impl Into<String> => |s, v| s.remote = Some(v.into()));
    setter!(/// Run commands on this host over ssh.
        remote_host: impl Into<String> => |s, v| s.remote_host = Some(v.into()));
    setter!(/// Run commands through `sudo -n`.
        sudo: bool => |s, v| s.sudo = v);
    setter!(/// Cluster member for `--target`.
        target: impl Into<String> => |s, v| s.target = Some(v.into()));
    setter!(/// Instance name prefix (not validated here; keep it a short lowercase word).
        instance_prefix: impl Into<String> => |s, v| s.instance_prefix = v.into());
    setter!(/// Bound on the readiness wait.
        readiness_timeout: Duration => |s, v| s.readiness_timeout = v);
    setter!(/// Pause between readiness probes.
        readiness_interval: Duration => |s, v| s.readiness_interval = v);
    setter!(/// Backstop beyond the job timeout.
        launch_grace: Duration => |s, v| s.launch_grace = v);
    setter!(/// Bound on each command other than the launch.
        command_timeout: Duration => |s, v| s.command_timeout = v);
    setter!(/// Staged workspace-deps folder.
        staged_deps_dir: impl Into<Utf8PathBuf> => |s, v| s.staged_deps_dir = Some(v.into()));
    setter!(/// Staged workspace-build folder.
        staged_build_dir: impl Into<Utf8PathBuf> => |s, v| s.staged_build_dir = Some(v.into()));
    setter!(/// Where per-job `/artifacts` folders are made.
        artifacts_root: impl Into<Utf8PathBuf> => |s, v| s.artifacts_root = v.into());

    /// Adds one variable to the environment of every `incus` invocation.
    pub fn client_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.client_env.insert(key.into(), value.into());
        self
    }

    /// The settings.
    pub fn build(self) -> IncusSettings {
        self.settings
    }
}

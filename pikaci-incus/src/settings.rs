//! Incus settings: `[incus]` from `pikaci.toml`, then environment overrides,
//! then defaults, resolved once into typed values.
//!
//! | key | env override | default |
//! |---|---|---|
//! | `project` | `PIKACI_REMOTE_LINUX_VM_INCUS_PROJECT` | `pika-managed-agents` |
//! | `profile` | `PIKACI_REMOTE_LINUX_VM_INCUS_PROFILE` | `pika-agent-dev` |
//! | `image_alias` | `PIKACI_REMOTE_LINUX_VM_INCUS_IMAGE_ALIAS` | `pikaci/dev` |
//! | `storage_pool` | `PIKACI_REMOTE_LINUX_VM_INCUS_STORAGE_POOL` | `default` |
//! | `cpu` | `PIKACI_REMOTE_LINUX_VM_INCUS_CPU` | none |
//! | `memory` | `PIKACI_REMOTE_LINUX_VM_INCUS_MEMORY` | none |
//! | `remote_host` | `PIKACI_REMOTE_LINUX_VM_INCUS_REMOTE_HOST` | none (local) |
//! | `sudo` | `PIKACI_REMOTE_LINUX_VM_INCUS_SUDO` | `false` |
//! | `target` | `PIKACI_REMOTE_LINUX_VM_INCUS_TARGET` | none |
//! | `instance_prefix` | `PIKACI_REMOTE_LINUX_VM_INCUS_INSTANCE_PREFIX` | `pikaci` |
//! | `readiness_timeout_secs` | `PIKACI_REMOTE_LINUX_VM_INCUS_READINESS_TIMEOUT_SECS` | `180` |
//! | `staged_deps_dir` | `PIKACI_REMOTE_LINUX_VM_INCUS_STAGED_DEPS_DIR` | none |
//! | `staged_build_dir` | `PIKACI_REMOTE_LINUX_VM_INCUS_STAGED_BUILD_DIR` | none |
//! | (program) | `PIKACI_REMOTE_LINUX_VM_INCUS_PROGRAM` | `incus` |
//! | (command timeout) | `PIKACI_REMOTE_LINUX_VM_INCUS_COMMAND_TIMEOUT_SECS` | `900` |
//! | (artifacts) | `PIKACI_REMOTE_LINUX_VM_INCUS_ARTIFACTS_DIR` | `$TMPDIR/pikaci-incus` |
//!
//! An empty environment value counts as unset.

use std::collections::BTreeMap;
use std::time::Duration;

use camino::Utf8PathBuf;
use pikaci_core::IncusConfig;

use crate::error::IncusError;

/// Prefix of every environment override.
pub const ENV_PREFIX: &str = "PIKACI_REMOTE_LINUX_VM_INCUS_";
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
/// Default bound on waiting for the guest agent.
pub const DEFAULT_READINESS_TIMEOUT: Duration = Duration::from_secs(180);
/// Default bound on each command other than the launch.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(900);
/// Longest instance prefix accepted (names are at most 63 characters).
pub const MAX_PREFIX_LEN: usize = 20;

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
    /// Storage pool of the root disk.
    pub storage_pool: String,
    /// `limits.cpu`.
    pub cpu: Option<u32>,
    /// `limits.memory`, e.g. `8GiB`.
    pub memory: Option<String>,
    /// Run every command on this host over `ssh`.
    pub remote_host: Option<String>,
    /// Run every command through `sudo -n`.
    pub sudo: bool,
    /// Cluster member for `init --target`.
    pub target: Option<String>,
    /// Prefix of instance names; `gc` only touches names with it.
    pub instance_prefix: String,
    /// How long to wait for `exec -- true` to succeed after `start`.
    pub readiness_timeout: Duration,
    /// Pause between readiness probes.
    pub readiness_interval: Duration,
    /// Extra time the host gives the guest beyond the job timeout (the guest
    /// enforces the job timeout itself; this is the backstop).
    pub launch_grace: Duration,
    /// Bound on every Incus or host command other than the launch (an
    /// `init` stuck on an image download, a hung `ssh`).
    pub command_timeout: Duration,
    /// Host folder mounted at `/staged/linux-rust/workspace-deps`.
    pub staged_deps_dir: Option<Utf8PathBuf>,
    /// Host folder mounted at `/staged/linux-rust/workspace-build`.
    pub staged_build_dir: Option<Utf8PathBuf>,
    /// Folder (on the Incus host) under which each job gets its `/artifacts`.
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
            storage_pool: DEFAULT_STORAGE_POOL.into(),
            cpu: None,
            memory: None,
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

/// One value with where it came from, for error messages.
struct Pick {
    value: String,
    origin: String,
}

struct Resolver<'a> {
    env: &'a BTreeMap<String, String>,
}

impl Resolver<'_> {
    /// The env override for `key` if set and non-empty, else the config value.
    fn pick(&self, key: &str, config: Option<String>) -> Option<Pick> {
        let var = format!("{ENV_PREFIX}{}", key.to_ascii_uppercase());
        match self.env.get(&var).filter(|v| !v.is_empty()) {
            Some(v) => Some(Pick {
                value: v.clone(),
                origin: var,
            }),
            None => config.map(|value| Pick {
                value,
                origin: "pikaci.toml [incus]".into(),
            }),
        }
    }
}

fn invalid(key: &'static str, pick: &Pick, reason: impl Into<String>) -> IncusError {
    IncusError::InvalidSetting {
        key,
        origin: pick.origin.clone(),
        value: pick.value.clone(),
        reason: reason.into(),
    }
}

/// Incus project, profile, pool and member names: non-empty, no whitespace or `/`.
fn check_name(key: &'static str, pick: &Pick) -> Result<String, IncusError> {
    let v = pick.value.trim();
    if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            key,
            pick,
            "must be a non-empty name without spaces",
        ));
    }
    Ok(v.to_owned())
}

fn check_prefix(pick: &Pick) -> Result<String, IncusError> {
    let v = pick.value.as_str();
    let ok_chars = v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !v.starts_with(|c: char| c.is_ascii_alphabetic()) || !ok_chars || v.ends_with('-') {
        return Err(invalid(
            "instance_prefix",
            pick,
            "must start with a letter and hold only letters, digits and inner hyphens",
        ));
    }
    if v.len() > MAX_PREFIX_LEN {
        return Err(invalid(
            "instance_prefix",
            pick,
            format!("must be at most {MAX_PREFIX_LEN} characters"),
        ));
    }
    Ok(v.to_ascii_lowercase())
}

fn parse_bool(key: &'static str, pick: &Pick) -> Result<bool, IncusError> {
    match pick.value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(invalid(key, pick, "must be true or false (or 1 / 0)")),
    }
}

fn parse_u64(key: &'static str, pick: &Pick, min: u64) -> Result<u64, IncusError> {
    match pick.value.trim().parse::<u64>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(invalid(
            key,
            pick,
            format!("must be a whole number, at least {min}"),
        )),
    }
}

impl IncusSettings {
    /// A builder starting from the defaults.
    pub fn builder() -> IncusSettingsBuilder {
        IncusSettingsBuilder {
            settings: Self::default(),
        }
    }

    /// Resolves `[incus]` plus environment overrides (`env` is the process
    /// environment, passed in so this stays pure) into settings.
    pub fn resolve(
        config: &IncusConfig,
        env: &BTreeMap<String, String>,
    ) -> Result<Self, IncusError> {
        let r = Resolver { env };
        let mut s = Self::default();
        if let Some(p) = r.pick("program", None) {
            s.program = check_name("program", &p)?;
        }
        if let Some(p) = r.pick("project", config.project.clone()) {
            s.project = check_name("project", &p)?;
        }
        if let Some(p) = r.pick("profile", config.profile.clone()) {
            s.profile = check_name("profile", &p)?;
        }
        if let Some(p) = r.pick("image_alias", config.image_alias.clone()) {
            s.image_alias = check_name("image_alias", &p)?;
        }
        if let Some(p) = r.pick("storage_pool", config.storage_pool.clone()) {
            s.storage_pool = check_name("storage_pool", &p)?;
        }
        if let Some(p) = r.pick("cpu", config.cpu.map(|c| c.to_string())) {
            let n = parse_u64("cpu", &p, 1)?;
            s.cpu = Some(u32::try_from(n).map_err(|_| invalid("cpu", &p, "is too large"))?);
        }
        if let Some(p) = r.pick("memory", config.memory.clone()) {
            s.memory = Some(check_name("memory", &p)?);
        }
        if let Some(p) = r.pick("remote_host", config.remote_host.clone()) {
            let host = check_name("remote_host", &p)?;
            if host.starts_with('-') {
                return Err(invalid("remote_host", &p, "must not start with `-`"));
            }
            s.remote_host = Some(host);
        }
        if let Some(p) = r.pick("sudo", config.sudo.map(|b| b.to_string())) {
            s.sudo = parse_bool("sudo", &p)?;
        }
        if let Some(p) = r.pick("target", config.target.clone()) {
            s.target = Some(check_name("target", &p)?);
        }
        if let Some(p) = r.pick("instance_prefix", config.instance_prefix.clone()) {
            s.instance_prefix = check_prefix(&p)?;
        }
        let readiness = config.readiness_timeout_secs.map(|n| n.to_string());
        if let Some(p) = r.pick("readiness_timeout_secs", readiness) {
            s.readiness_timeout = Duration::from_secs(parse_u64("readiness_timeout_secs", &p, 1)?);
        }
        if let Some(p) = r.pick("command_timeout_secs", None) {
            s.command_timeout = Duration::from_secs(parse_u64("command_timeout_secs", &p, 1)?);
        }
        let deps = config.staged_deps_dir.as_ref().map(|d| d.to_string());
        if let Some(p) = r.pick("staged_deps_dir", deps) {
            s.staged_deps_dir = Some(absolute_dir("staged_deps_dir", &p)?);
        }
        let build = config.staged_build_dir.as_ref().map(|d| d.to_string());
        if let Some(p) = r.pick("staged_build_dir", build) {
            s.staged_build_dir = Some(absolute_dir("staged_build_dir", &p)?);
        }
        if let Some(p) = r.pick("artifacts_dir", None) {
            s.artifacts_root = absolute_dir("artifacts_dir", &p)?;
        } else if let Some(tmp) = env.get("TMPDIR").filter(|t| t.starts_with('/')) {
            s.artifacts_root = Utf8PathBuf::from(tmp).join("pikaci-incus");
        }
        Ok(s)
    }

    /// Whether commands go to another host.
    pub fn is_remote(&self) -> bool {
        self.remote_host.is_some()
    }
}

fn absolute_dir(key: &'static str, pick: &Pick) -> Result<Utf8PathBuf, IncusError> {
    let path = Utf8PathBuf::from(pick.value.trim());
    if !path.is_absolute() {
        return Err(invalid(key, pick, "must be an absolute path"));
    }
    Ok(path)
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
    setter!(/// The storage pool.
        storage_pool: impl Into<String> => |s, v| s.storage_pool = v.into());
    setter!(/// `limits.cpu`.
        cpu: u32 => |s, v| s.cpu = Some(v));
    setter!(/// `limits.memory`.
        memory: impl Into<String> => |s, v| s.memory = Some(v.into()));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_match_the_contract() {
        let s = IncusSettings::resolve(&IncusConfig::default(), &BTreeMap::new()).unwrap();
        assert_eq!(s.project, "pika-managed-agents");
        assert_eq!(s.profile, "pika-agent-dev");
        assert_eq!(s.image_alias, "pikaci/dev");
        assert_eq!(s.storage_pool, "default");
        assert_eq!(s.instance_prefix, "pikaci");
        assert_eq!(s.program, "incus");
        assert!(!s.sudo && s.remote_host.is_none() && s.target.is_none());
        assert_eq!(s, IncusSettings::default());
    }

    #[test]
    fn config_then_env_override() {
        let config = IncusConfig {
            project: Some("from-toml".into()),
            profile: Some("toml-profile".into()),
            cpu: Some(4),
            sudo: Some(true),
            readiness_timeout_secs: Some(30),
            ..IncusConfig::default()
        };
        let e = env(&[
            ("PIKACI_REMOTE_LINUX_VM_INCUS_PROJECT", "from-env"),
            ("PIKACI_REMOTE_LINUX_VM_INCUS_IMAGE_ALIAS", "pikaci/next"),
            ("PIKACI_REMOTE_LINUX_VM_INCUS_PROFILE", ""),
            ("PIKACI_REMOTE_LINUX_VM_INCUS_SUDO", "0"),
            ("PIKACI_REMOTE_LINUX_VM_INCUS_MEMORY", "8GiB"),
            ("PIKACI_REMOTE_LINUX_VM_INCUS_TARGET", "node-2"),
            ("PIKACI_REMOTE_LINUX_VM_INCUS_REMOTE_HOST", "ci@builder"),
            ("PIKACI_REMOTE_LINUX_VM_INCUS_STAGED_DEPS_DIR", "/srv/deps"),
            ("PIKACI_REMOTE_LINUX_VM_INCUS_COMMAND_TIMEOUT_SECS", "120"),
            ("TMPDIR", "/var/tmp"),
        ]);
        let s = IncusSettings::resolve(&config, &e).unwrap();
        assert_eq!(s.project, "from-env");
        assert_eq!(s.profile, "toml-profile", "empty env values count as unset");
        assert_eq!(s.image_alias, "pikaci/next");
        assert_eq!(s.cpu, Some(4));
        assert!(!s.sudo);
        assert_eq!(s.memory.as_deref(), Some("8GiB"));
        assert_eq!(s.target.as_deref(), Some("node-2"));
        assert_eq!(s.remote_host.as_deref(), Some("ci@builder"));
        assert_eq!(s.readiness_timeout, Duration::from_secs(30));
        assert_eq!(s.staged_deps_dir.as_deref(), Some("/srv/deps".into()));
        assert_eq!(s.artifacts_root, "/var/tmp/pikaci-incus");
        assert_eq!(s.command_timeout, Duration::from_secs(120));
    }

    #[test]
    fn bad_values_name_key_origin_and_value() {
        let cases = [
            ("PIKACI_REMOTE_LINUX_VM_INCUS_CPU", "four", "cpu"),
            ("PIKACI_REMOTE_LINUX_VM_INCUS_CPU", "0", "cpu"),
            ("PIKACI_REMOTE_LINUX_VM_INCUS_SUDO", "maybe", "sudo"),
            (
                "PIKACI_REMOTE_LINUX_VM_INCUS_INSTANCE_PREFIX",
                "9lives",
                "instance_prefix",
            ),
            (
                "PIKACI_REMOTE_LINUX_VM_INCUS_INSTANCE_PREFIX",
                "a_b",
                "instance_prefix",
            ),
            (
                "PIKACI_REMOTE_LINUX_VM_INCUS_INSTANCE_PREFIX",
                "averyveryverylongprefix",
                "instance_prefix",
            ),
            (
                "PIKACI_REMOTE_LINUX_VM_INCUS_PROJECT",
                "two words",
                "project",
            ),
            (
                "PIKACI_REMOTE_LINUX_VM_INCUS_REMOTE_HOST",
                "-oProxyCommand=x",
                "remote_host",
            ),
            (
                "PIKACI_REMOTE_LINUX_VM_INCUS_READINESS_TIMEOUT_SECS",
                "0",
                "readiness_timeout_secs",
            ),
            (
                "PIKACI_REMOTE_LINUX_VM_INCUS_STAGED_BUILD_DIR",
                "rel/dir",
                "staged_build_dir",
            ),
        ];
        for (var, value, key) in cases {
            let err = IncusSettings::resolve(&IncusConfig::default(), &env(&[(var, value)]))
                .expect_err(var);
            let msg = err.to_string();
            assert!(
                msg.contains(key) && msg.contains(var) && msg.contains(value),
                "{msg}"
            );
        }
        let config = IncusConfig {
            instance_prefix: Some("-x".into()),
            ..IncusConfig::default()
        };
        let msg = IncusSettings::resolve(&config, &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(msg.contains("pikaci.toml"), "{msg}");
    }

    #[test]
    fn builder_sets_fields() {
        let s = IncusSettings::builder()
            .project("p")
            .cpu(2)
            .sudo(true)
            .remote_host("h")
            .client_env("INCUS_CONF", "/etc/x")
            .build();
        assert_eq!(s.project, "p");
        assert_eq!(s.cpu, Some(2));
        assert!(s.sudo && s.is_remote());
        assert_eq!(s.client_env["INCUS_CONF"], "/etc/x");
    }
}

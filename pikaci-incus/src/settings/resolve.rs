//! [`IncusSettings::resolve`]: `[incus]`, then environment overrides, then
//! defaults, checked once into typed values.
//!
//! | key | env override | default |
//! |---|---|---|
//! | `project` | `PIKACI_REMOTE_LINUX_VM_INCUS_PROJECT` | `pika-managed-agents` |
//! | `profile` | `PIKACI_REMOTE_LINUX_VM_INCUS_PROFILE` | `pika-agent-dev` |
//! | `image_alias` | `PIKACI_REMOTE_LINUX_VM_INCUS_IMAGE_ALIAS` | `pikaci/dev` |
//! | `instance_type` | `PIKACI_REMOTE_LINUX_VM_INCUS_INSTANCE_TYPE` | `vm` |
//! | `storage_pool` | `PIKACI_REMOTE_LINUX_VM_INCUS_STORAGE_POOL` | `default` |
//! | `cpu` | `PIKACI_REMOTE_LINUX_VM_INCUS_CPU` | `2` |
//! | `memory` | `PIKACI_REMOTE_LINUX_VM_INCUS_MEMORY` | `4GiB` |
//! | `remote` | `PIKACI_REMOTE_LINUX_VM_INCUS_REMOTE` | none (local) |
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

use super::model::{IncusSettings, MAX_PREFIX_LEN, env_var};
use crate::config::{IncusConfig, InstanceType};
use crate::error::IncusError;

/// One value with where it came from, for error messages.
struct Pick {
    value: String,
    origin: String,
}

struct Resolver<'a> {
    config: &'a IncusConfig,
    env: &'a BTreeMap<String, String>,
}

impl Resolver<'_> {
    /// The env override for `key` if set and non-empty, else the config value.
    fn pick(&self, key: &str, config: Option<String>) -> Option<Pick> {
        let var = env_var(key);
        match self.env.get(&var).filter(|v| !v.is_empty()) {
            Some(v) => Some(Pick {
                value: v.clone(),
                origin: var,
            }),
            None => config.map(|value| Pick {
                value,
                origin: self.config.origin(key),
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

/// Incus project, profile, pool and member names: non-empty, no whitespace.
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

/// A remote name as `incus remote add` takes it: no `:` or `/`, not an option.
fn check_remote(pick: &Pick) -> Result<String, IncusError> {
    let v = check_name("remote", pick)?;
    if v.starts_with('-') || v.contains([':', '/']) {
        return Err(invalid(
            "remote",
            pick,
            "must be the name of an Incus remote (see `incus remote list`), without `:` or `/`",
        ));
    }
    Ok(v)
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

/// `limits.memory` as Incus takes it: a number with an optional byte unit
/// (`4GiB`, `512MB`, `1073741824`) or a percentage (`50%`).
fn check_memory(pick: &Pick) -> Result<String, IncusError> {
    const UNITS: [&str; 14] = [
        "", "B", "kB", "KB", "MB", "GB", "TB", "PB", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB",
    ];
    let v = pick.value.trim();
    let digits = v
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(digits);
    let number_ok = !number.is_empty()
        && !number.starts_with('.')
        && !number.ends_with('.')
        && number.matches('.').count() <= 1;
    if number_ok && (UNITS.contains(&unit) || (unit == "%" && !number.contains('.'))) {
        return Ok(v.to_owned());
    }
    Err(invalid(
        "memory",
        pick,
        "must be a size such as 4GiB, 512MiB or 50%",
    ))
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

fn absolute_dir(key: &'static str, pick: &Pick) -> Result<Utf8PathBuf, IncusError> {
    let path = Utf8PathBuf::from(pick.value.trim());
    if !path.is_absolute() {
        return Err(invalid(key, pick, "must be an absolute path"));
    }
    Ok(path)
}

impl IncusSettings {
    /// Resolves `[incus]` plus environment overrides (`env` is the process
    /// environment, passed in so this stays pure) into settings. Errors name
    /// the key, where its value came from (`pikaci.toml:LINE` or the
    /// variable) and the value.
    pub fn resolve(
        config: &IncusConfig,
        env: &BTreeMap<String, String>,
    ) -> Result<Self, IncusError> {
        let r = Resolver { config, env };
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
        let kind = config.instance_type.map(|t| t.as_str().to_owned());
        if let Some(p) = r.pick("instance_type", kind) {
            s.instance_type = p
                .value
                .parse::<InstanceType>()
                .map_err(|e| invalid("instance_type", &p, e.to_string()))?;
        }
        if let Some(p) = r.pick("storage_pool", config.storage_pool.clone()) {
            s.storage_pool = check_name("storage_pool", &p)?;
        }
        if let Some(p) = r.pick("cpu", config.cpu.map(|c| c.to_string())) {
            let n = parse_u64("cpu", &p, 1)?;
            s.cpu = u32::try_from(n).map_err(|_| invalid("cpu", &p, "is too large"))?;
        }
        if let Some(p) = r.pick("memory", config.memory.clone()) {
            s.memory = check_memory(&p)?;
        }
        if let Some(p) = r.pick("remote", config.remote.clone()) {
            s.remote = Some(check_remote(&p)?);
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
}

#[cfg(test)]
#[path = "resolve_tests.rs"]
mod tests;

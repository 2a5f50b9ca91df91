//! `[incus]` of `pikaci.toml`: read from the [`ConfigSection`] the pipeline
//! parser keeps, with errors that name the file, the line and the key.
//!
//! Every key is optional; [`crate::IncusSettings::resolve`] applies the
//! environment overrides and the defaults.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use camino::Utf8PathBuf;
use pikaci_core::{ConfigSection, PipelineError};
use serde::Deserialize;
use toml::Spanned;

/// Which kind of Incus instance runs a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InstanceType {
    /// A virtual machine (`incus init --vm`), shares over virtiofs. The default.
    #[default]
    Vm,
    /// A system container: no `--vm`, no VM-only device options.
    Container,
}

impl InstanceType {
    /// `vm` or `container`, as written in `[incus]`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vm => "vm",
            Self::Container => "container",
        }
    }

    /// The type name Incus uses (`virtual-machine`, `container`).
    pub fn incus_name(self) -> &'static str {
        match self {
            Self::Vm => "virtual-machine",
            Self::Container => "container",
        }
    }
}

impl fmt::Display for InstanceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `instance_type` is neither `vm` nor `container`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be \"vm\" or \"container\"")]
pub struct ParseInstanceTypeError;

impl FromStr for InstanceType {
    type Err = ParseInstanceTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "vm" | "virtual-machine" => Ok(Self::Vm),
            "container" => Ok(Self::Container),
            _ => Err(ParseInstanceTypeError),
        }
    }
}

/// The `[incus]` table. Build it in code (every field is public) or read it
/// from a pipeline with [`IncusConfig::from_section`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IncusConfig {
    /// Incus project (`--project`).
    pub project: Option<String>,
    /// The pikaci profile added to each instance.
    pub profile: Option<String>,
    /// The image alias to launch.
    pub image_alias: Option<String>,
    /// Virtual machine (default) or system container.
    pub instance_type: Option<InstanceType>,
    /// Storage pool for the root disk.
    pub storage_pool: Option<String>,
    /// `limits.cpu`.
    pub cpu: Option<u32>,
    /// `limits.memory`, e.g. `8GiB`.
    pub memory: Option<String>,
    /// An Incus remote (`incus remote add NAME ...`) to run instances on.
    pub remote: Option<String>,
    /// Run `incus` on this host over ssh.
    pub remote_host: Option<String>,
    /// Run `incus` through `sudo`.
    pub sudo: Option<bool>,
    /// Cluster member for `init --target`.
    pub target: Option<String>,
    /// Prefix of instance names.
    pub instance_prefix: Option<String>,
    /// How long to wait for the guest agent, in seconds.
    pub readiness_timeout_secs: Option<u64>,
    /// Host folder with the staged workspace-deps output.
    pub staged_deps_dir: Option<Utf8PathBuf>,
    /// Host folder with the staged workspace-build output.
    pub staged_build_dir: Option<Utf8PathBuf>,
    /// Where each key was set (`pikaci.toml:12`), for error messages;
    /// filled by [`IncusConfig::from_section`], empty for a config built in code.
    pub origins: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIncus {
    project: Option<Spanned<String>>,
    profile: Option<Spanned<String>>,
    image_alias: Option<Spanned<String>>,
    instance_type: Option<Spanned<String>>,
    storage_pool: Option<Spanned<String>>,
    cpu: Option<Spanned<u32>>,
    memory: Option<Spanned<String>>,
    remote: Option<Spanned<String>>,
    remote_host: Option<Spanned<String>>,
    sudo: Option<Spanned<bool>>,
    target: Option<Spanned<String>>,
    instance_prefix: Option<Spanned<String>>,
    readiness_timeout_secs: Option<Spanned<u64>>,
    staged_deps_dir: Option<Spanned<Utf8PathBuf>>,
    staged_build_dir: Option<Spanned<Utf8PathBuf>>,
}

/// Records where `key` was set and unwraps its value.
struct Origins<'a> {
    section: &'a ConfigSection,
    map: BTreeMap<String, String>,
}

impl Origins<'_> {
    fn take<T>(&mut self, key: &'static str, value: Option<Spanned<T>>) -> Option<T> {
        let value = value?;
        let origin = match self.section.line_of(value.span().start) {
            Some(line) => format!("{}:{line}", self.section.file()),
            None => format!("{} [{}]", self.section.file(), self.section.name()),
        };
        self.map.insert(key.to_owned(), origin);
        Some(value.into_inner())
    }

    fn span<T>(value: &Option<Spanned<T>>) -> Option<Range<usize>> {
        value.as_ref().map(Spanned::span)
    }
}

impl IncusConfig {
    /// Reads `[incus]`. Unknown keys, values of the wrong type and an unknown
    /// `instance_type` are errors naming the file, the line and the key;
    /// everything else is checked by [`crate::IncusSettings::resolve`].
    pub fn from_section(section: &ConfigSection) -> Result<Self, PipelineError> {
        let raw: RawIncus = section.deserialize()?;
        let instance_type = match &raw.instance_type {
            None => None,
            Some(t) => Some(t.get_ref().parse::<InstanceType>().map_err(|e| {
                section.invalid(
                    "instance_type",
                    Origins::span(&raw.instance_type),
                    e.to_string(),
                )
            })?),
        };
        let mut o = Origins {
            section,
            map: BTreeMap::new(),
        };
        let mut config = Self {
            project: o.take("project", raw.project),
            profile: o.take("profile", raw.profile),
            image_alias: o.take("image_alias", raw.image_alias),
            instance_type,
            storage_pool: o.take("storage_pool", raw.storage_pool),
            cpu: o.take("cpu", raw.cpu),
            memory: o.take("memory", raw.memory),
            remote: o.take("remote", raw.remote),
            remote_host: o.take("remote_host", raw.remote_host),
            sudo: o.take("sudo", raw.sudo),
            target: o.take("target", raw.target),
            instance_prefix: o.take("instance_prefix", raw.instance_prefix),
            readiness_timeout_secs: o.take("readiness_timeout_secs", raw.readiness_timeout_secs),
            staged_deps_dir: o.take("staged_deps_dir", raw.staged_deps_dir),
            staged_build_dir: o.take("staged_build_dir", raw.staged_build_dir),
            origins: BTreeMap::new(),
        };
        let _ = o.take("instance_type", raw.instance_type);
        config.origins = o.map;
        Ok(config)
    }

    /// Where `key` was set: `FILE:LINE`, or `pikaci.toml [incus]` for a
    /// config built in code.
    pub fn origin(&self, key: &str) -> String {
        self.origins
            .get(key)
            .cloned()
            .unwrap_or_else(|| "pikaci.toml [incus]".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use camino::Utf8Path;
    use pikaci_core::Pipeline;

    use super::*;

    fn read(text: &str) -> Result<IncusConfig, PipelineError> {
        let p = Pipeline::parse(text, Utf8Path::new("ci/pikaci.toml")).unwrap();
        IncusConfig::from_section(&p.incus)
    }

    #[test]
    fn reads_every_key_with_its_line() {
        let c = read(
            "[incus]\nproject = \"p\"\ninstance_type = \"container\"\ncpu = 4\nremote = \"far\"\nsudo = true\nstaged_deps_dir = \"/srv/deps\"\n",
        )
        .unwrap();
        assert_eq!(c.project.as_deref(), Some("p"));
        assert_eq!(c.instance_type, Some(InstanceType::Container));
        assert_eq!(c.cpu, Some(4));
        assert_eq!(c.remote.as_deref(), Some("far"));
        assert_eq!(c.sudo, Some(true));
        assert_eq!(
            c.staged_deps_dir.as_deref(),
            Some(Utf8Path::new("/srv/deps"))
        );
        assert_eq!(c.origin("cpu"), "ci/pikaci.toml:4");
        assert_eq!(c.origin("instance_type"), "ci/pikaci.toml:3");
        assert_eq!(c.origin("memory"), "pikaci.toml [incus]");
    }

    #[test]
    fn an_absent_table_is_all_defaults() {
        let c = read("[[job]]\nid = \"a\"\ncommand = \"true\"\n").unwrap();
        assert_eq!(c, IncusConfig::default());
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let cases = [
            ("[incus]\nproject = \"p\"\nprojct = \"q\"\n", 3, "projct"),
            ("[incus]\ncpu = \"four\"\n", 2, "cpu"),
            ("[incus]\nsudo = 1\n", 2, "sudo"),
            ("[incus]\n\ninstance_type = \"lxc\"\n", 3, "instance_type"),
        ];
        for (text, line, key) in cases {
            let msg = read(text).unwrap_err().to_string();
            assert!(
                msg.starts_with(&format!("ci/pikaci.toml:{line}:")) && msg.contains(key),
                "{text:?}: {msg}"
            );
        }
    }

    #[test]
    fn instance_types_parse() {
        assert_eq!("vm".parse(), Ok(InstanceType::Vm));
        assert_eq!(" Container ".parse(), Ok(InstanceType::Container));
        assert_eq!("virtual-machine".parse(), Ok(InstanceType::Vm));
        assert!("docker".parse::<InstanceType>().is_err());
        assert_eq!(InstanceType::default(), InstanceType::Vm);
        assert_eq!(InstanceType::Vm.incus_name(), "virtual-machine");
    }
}

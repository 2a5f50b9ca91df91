//! What of the host a job's instance gets: disk devices in mount mode, pushed
//! trees in push mode, and the guest launch.

use std::collections::BTreeMap;

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::JobSpec;
use pikaci_core::contract::shell_quote;

use crate::config::InstanceType;
use crate::error::IncusError;
use crate::guest::{ARTIFACTS_PATH, SNAPSHOT_PATH, STAGED_BUILD_PATH, STAGED_DEPS_PATH};
use crate::name::InstanceName;
use crate::settings::{IncusSettings, Transfer};

/// One disk device: a host folder given to the guest (mount mode).
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

impl DiskDevice {
    /// The device's Incus configuration for `kind`.
    ///
    /// A VM shares the folder over virtiofs with `shift=false`, so the guest
    /// sees host ownership as it is. A container is user-namespaced: seeing
    /// host ownership as it is takes an idmapped mount, `shift=true`, and
    /// `io.bus` does not apply.
    pub fn config(&self, kind: InstanceType) -> BTreeMap<&'static str, String> {
        let mut c = BTreeMap::from([
            ("type", "disk".to_owned()),
            ("source", self.source.to_string()),
            ("path", self.path.to_owned()),
        ]);
        if self.readonly {
            c.insert("readonly", "true".into());
        }
        match kind {
            InstanceType::Vm => {
                c.insert("io.bus", "virtiofs".into());
                c.insert("shift", "false".into());
            }
            InstanceType::Container => {
                c.insert("shift", "true".into());
            }
        }
        c
    }
}

/// A host folder every job's instance gets, mounted or pushed.
struct SharedFolder {
    /// The Incus device name (mount mode).
    name: &'static str,
    source: Utf8PathBuf,
    path: &'static str,
    readonly: bool,
}

/// The folders a job shares with its instance in either mode, in order: the
/// snapshot (read-only unless the job has a writable workspace), then the
/// staged outputs when configured (read-only).
fn shared_folders(
    settings: &IncusSettings,
    workspace: &Utf8Path,
    writable_workspace: bool,
) -> Vec<SharedFolder> {
    let mut out = vec![SharedFolder {
        name: "workspace-snapshot",
        source: workspace.to_owned(),
        path: SNAPSHOT_PATH,
        readonly: !writable_workspace,
    }];
    for (dir, name, path) in [
        (&settings.staged_deps_dir, "staged-deps", STAGED_DEPS_PATH),
        (
            &settings.staged_build_dir,
            "staged-build",
            STAGED_BUILD_PATH,
        ),
    ] {
        if let Some(dir) = dir {
            out.push(SharedFolder {
                name,
                source: dir.clone(),
                path,
                readonly: true,
            });
        }
    }
    out
}

/// The devices of a job in mount mode: the snapshot (read-only unless the
/// job has a writable workspace), the staged outputs when configured
/// (read-only), and the writable artifacts folder.
pub fn devices(
    settings: &IncusSettings,
    workspace: &Utf8Path,
    artifacts_dir: &Utf8Path,
    writable_workspace: bool,
) -> Vec<DiskDevice> {
    let mut out: Vec<DiskDevice> = shared_folders(settings, workspace, writable_workspace)
        .into_iter()
        .map(|f| DiskDevice {
            name: f.name,
            source: f.source,
            path: f.path,
            readonly: f.readonly,
        })
        .collect();
    out.push(DiskDevice {
        name: "artifacts",
        source: artifacts_dir.to_owned(),
        path: ARTIFACTS_PATH,
        readonly: false,
    });
    out
}

/// A folder of this machine copied into the instance (push mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedTree {
    /// The folder here.
    pub source: Utf8PathBuf,
    /// Where it goes in the guest.
    pub path: &'static str,
    /// Whether the guest sees it read-only (a read-only bind mount over it).
    pub readonly: bool,
}

/// The trees a job pushes: the snapshot (read-only unless the job has a
/// writable workspace) and the staged outputs when configured (read-only).
pub fn pushed_trees(
    settings: &IncusSettings,
    workspace: &Utf8Path,
    writable_workspace: bool,
) -> Vec<PushedTree> {
    shared_folders(settings, workspace, writable_workspace)
        .into_iter()
        .map(|f| PushedTree {
            source: f.source,
            path: f.path,
            readonly: f.readonly,
        })
        .collect()
}

/// The host folder mounted at `/artifacts` for `instance` in mount mode;
/// `None` in push mode, where `/artifacts` only exists in the guest.
pub fn artifacts_dir(settings: &IncusSettings, instance: &InstanceName) -> Option<Utf8PathBuf> {
    (settings.transfer() == Transfer::Mounts)
        .then(|| settings.artifacts_root.join(instance.as_str()))
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

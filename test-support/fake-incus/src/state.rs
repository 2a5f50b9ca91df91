//! The fake's state, in the folder named by `FAKE_INCUS_STATE`:
//!
//! - `world.json` (written by tests, optional): projects, images, profiles,
//!   storage pools and cluster members that exist, and whether VMs run.
//!   Defaults to what pikaci expects: project `pika-managed-agents`, image
//!   `pikaci/dev` (a VM image), profiles `default` and `pika-agent-dev`,
//!   pool `default`, no cluster, VMs supported.
//! - `knobs.json` (written by tests, optional): misbehaviour to simulate.
//! - `instances.json`: the instances, changed under an exclusive lock.
//! - `calls.log`: one JSON array per invocation, the argv as received.
//! - `roots/NAME/`: the guest's `/`, with each disk device a symlink.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use jiff::Timestamp;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// What exists besides instances.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct World {
    pub(crate) projects: BTreeSet<String>,
    /// Image alias → `virtual-machine` or `container`.
    pub(crate) images: BTreeMap<String, String>,
    pub(crate) profiles: BTreeSet<String>,
    pub(crate) storage_pools: BTreeSet<String>,
    pub(crate) cluster_members: BTreeSet<String>,
    /// Whether the server runs virtual machines (false: refused as on a
    /// host without vhost_vsock).
    pub(crate) vm_support: bool,
}

impl Default for World {
    fn default() -> Self {
        let set = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
        Self {
            projects: set(&["default", "pika-managed-agents"]),
            images: [("pikaci/dev".to_owned(), "virtual-machine".to_owned())].into(),
            profiles: set(&["default", "pika-agent-dev"]),
            storage_pools: set(&["default"]),
            cluster_members: BTreeSet::new(),
            vm_support: true,
        }
    }
}

/// Misbehaviour for tests.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct Knobs {
    /// The guest agent never answers: every `exec` and `file` fails.
    pub(crate) never_ready: bool,
    /// The agent answers only after this many failed `exec`s per instance.
    pub(crate) ready_after_probes: u32,
    /// `start` fails with this message.
    pub(crate) start_error: Option<String>,
    /// `delete` of an instance that exists fails with this message.
    pub(crate) delete_error: Option<String>,
    /// `delete` of an instance that exists waits while this file exists.
    pub(crate) delete_blocked_by: Option<PathBuf>,
}

/// One instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Instance {
    pub(crate) name: String,
    pub(crate) project: String,
    pub(crate) image: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) status: String,
    pub(crate) created_at: Timestamp,
    pub(crate) profiles: Vec<String>,
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) devices: BTreeMap<String, BTreeMap<String, String>>,
    /// Failed `exec`s so far (for `ready_after_probes`).
    pub(crate) probes: u32,
    /// Processes of `exec`s in flight, killed by `delete --force` and `stop`.
    pub(crate) exec_pids: Vec<i32>,
}

impl Instance {
    pub(crate) fn running(&self) -> bool {
        self.status == "Running"
    }
}

/// Instances by `project/name`.
pub(crate) type Instances = BTreeMap<String, Instance>;

pub(crate) fn key(project: &str, name: &str) -> String {
    format!("{project}/{name}")
}

/// The state folder.
pub(crate) struct State {
    dir: PathBuf,
}

impl State {
    pub(crate) fn from_env() -> Result<Self> {
        let dir = std::env::var_os("FAKE_INCUS_STATE")
            .context("FAKE_INCUS_STATE is not set (the fake keeps its instances there)")?;
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self { dir })
    }

    pub(crate) fn world(&self) -> Result<World> {
        read_or_default(&self.dir.join("world.json"))
    }

    pub(crate) fn knobs(&self) -> Result<Knobs> {
        read_or_default(&self.dir.join("knobs.json"))
    }

    pub(crate) fn root_of(&self, project: &str, name: &str) -> PathBuf {
        self.dir.join("roots").join(format!("{project}--{name}"))
    }

    pub(crate) fn log_call(&self, argv: &[String]) -> Result<()> {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("calls.log"))?;
        // One write per call: concurrent callers (two exit-cleanup
        // watchers deleting at once) append whole lines. `writeln!` on an
        // unbuffered file writes the JSON and the newline separately, and
        // two callers' pieces could interleave into one line.
        let mut line = serde_json::to_string(argv)?;
        line.push('\n');
        f.write_all(line.as_bytes())?;
        Ok(())
    }

    /// Runs `f` on the instances under the exclusive lock and saves them.
    pub(crate) fn with_instances<T>(
        &self,
        f: impl FnOnce(&mut Instances) -> Result<T>,
    ) -> Result<T> {
        let lock = File::create(self.dir.join(".lock"))?;
        let _guard = Flock::lock(lock, FlockArg::LockExclusive)
            .map_err(|(_, e)| anyhow::anyhow!("locking the fake's state: {e}"))?;
        let path = self.dir.join("instances.json");
        let mut instances: Instances = read_or_default(&path)?;
        let out = f(&mut instances)?;
        let tmp = self.dir.join("instances.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&instances)?)?;
        std::fs::rename(&tmp, &path)?;
        Ok(out)
    }
}

fn read_or_default<T: Default + for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    match std::fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

//! [`CgroupRoot`]: where this process may make cgroups for the jobs or lanes
//! it starts, found (or, on a v1-only layout, mounted) once at start-up.

use std::fmt;
use std::path::{Path, PathBuf};

use super::file::write;
use super::group::Cgroup;
use super::layout::{Controller, Membership, Mounts, under};
use super::{CgroupError, CgroupLimits};

/// Where a `cgroup2` hierarchy is mounted when the machine has none
/// mounted (a v1-only layout): the v2 hierarchy exists in every kernel that
/// has `cgroup.kill`, and holding no controller it takes none from v1.
pub const OWN_V2_MOUNT: &str = "/run/pikaci/cgroup2";

/// The cgroups this process makes go under its own: in the v2 hierarchy
/// (tracking and `cgroup.kill`), and for each limit either in v2 (when its
/// controller is enabled there) or in the v1 controller's hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupRoot {
    /// The v2 cgroup new ones are made in (this process's own).
    v2: PathBuf,
    /// Its path relative to the v2 hierarchy's root (as `/proc/PID/cgroup` says).
    v2_relative: String,
    /// Where v2 was found, or that pikaci mounted it.
    v2_mounted_here: bool,
    /// Each controller's place: in v2, or a v1 cgroup to make children in.
    controllers: Vec<(Controller, Place)>,
    /// Whether `cgroup.kill` exists (Linux 5.14 and later).
    has_kill: bool,
}

/// Where a controller's limit is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// In the v2 cgroup itself.
    V2,
    /// In a child of this v1 cgroup, made beside the v2 one.
    V1(PathBuf),
}

impl CgroupRoot {
    /// Finds this machine's cgroups from `/proc/self`, mounting a v2
    /// hierarchy at [`OWN_V2_MOUNT`] when none is mounted (root only), and
    /// checks a cgroup can be made, moved into and removed there.
    pub fn detect() -> Result<Self, CgroupError> {
        let read = |p: &str| {
            std::fs::read_to_string(p).map_err(|e| CgroupError::Io {
                what: format!("read {p}"),
                source: e,
            })
        };
        let mounts = Mounts::parse(&read("/proc/self/mountinfo")?);
        let me = Membership::parse(&read("/proc/self/cgroup")?);
        let (v2_mount, mounted_here) = match &mounts.v2 {
            Some(m) => (m.clone(), false),
            None => (mount_own_v2()?, true),
        };
        // A v2 path: ours, or the root when we mounted v2 ourselves (we are
        // then in its root, as `0::/` says).
        let rel = me.v2.clone().unwrap_or_else(|| "/".to_owned());
        let v2 = under(&v2_mount, &rel);
        let enabled =
            std::fs::read_to_string(v2.join("cgroup.subtree_control")).unwrap_or_default();
        let available = std::fs::read_to_string(v2.join("cgroup.controllers")).unwrap_or_default();
        let mut controllers = Vec::new();
        for c in Controller::ALL {
            let in_v2 = enabled.split_whitespace().any(|n| n == c.name())
                || (available.split_whitespace().any(|n| n == c.name())
                    && std::fs::write(v2.join("cgroup.subtree_control"), format!("+{}", c.name()))
                        .is_ok());
            if in_v2 {
                controllers.push((c, Place::V2));
            } else if let (Some(mount), Some(path)) = (mounts.v1(c), me.v1(c)) {
                controllers.push((c, Place::V1(under(mount, path))));
            }
        }
        let root = Self {
            v2,
            v2_relative: rel,
            v2_mounted_here: mounted_here,
            controllers,
            has_kill: false,
        };
        root.probe()
    }

    /// Makes, checks and removes a cgroup: what [`detect`](Self::detect)
    /// promises works.
    fn probe(mut self) -> Result<Self, CgroupError> {
        // Unique per call (threads of one process may detect at once); the
        // pid last, as the sweep of leftovers reads it.
        static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("pikaci-probe-{n}-{}", std::process::id());
        let group = self.create(&name, &CgroupLimits::default())?;
        self.has_kill = group.v2_dir().join("cgroup.kill").exists();
        group.remove()?;
        Ok(self)
    }

    /// A new cgroup `name` under this one, with `limits` set (each where its
    /// controller is; a limit no controller can enforce is an error). Fails
    /// if a cgroup of that name exists.
    pub fn create(&self, name: &str, limits: &CgroupLimits) -> Result<Cgroup, CgroupError> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(CgroupError::BadName(name.to_owned()));
        }
        let v2 = self.v2.join(name);
        std::fs::create_dir(&v2).map_err(|e| CgroupError::Io {
            what: format!("make cgroup {}", v2.display()),
            source: e,
        })?;
        let mut group = Cgroup::new(
            v2,
            format!("{}/{name}", self.v2_relative.trim_end_matches('/')),
            self.has_kill,
        );
        if let Err(e) = self.limit(&mut group, name, limits) {
            let _ = group.remove();
            return Err(e);
        }
        Ok(group)
    }

    fn limit(
        &self,
        group: &mut Cgroup,
        name: &str,
        limits: &CgroupLimits,
    ) -> Result<(), CgroupError> {
        for (controller, value) in limits.values() {
            let place = self
                .controllers
                .iter()
                .find(|(c, _)| *c == controller)
                .map(|(_, p)| p)
                .ok_or(CgroupError::NoController(controller.name()))?;
            match place {
                Place::V2 => group.write_v2(controller.v2_file(), &value)?,
                Place::V1(parent) => {
                    let dir = group.v1_dir(controller, parent.join(name))?;
                    let value = match (controller, value.parse::<u64>()) {
                        // v1 shares: 1024 is a normal process's, as 100 is in v2.
                        (Controller::Cpu, Ok(weight)) => (weight * 1024 / 100).max(2).to_string(),
                        _ => value,
                    };
                    write(&dir.join(controller.v1_file()), &value)?;
                }
            }
        }
        Ok(())
    }

    /// Ends and removes the cgroups under this one whose name starts with
    /// `prefix` and that `stale` says are nobody's any more (those of a
    /// server that died, say): `cgroup.kill`, then each is removed with its
    /// v1 cgroups. Returns each one's name and how many processes it held.
    pub fn sweep(&self, prefix: &str, stale: impl Fn(&str) -> bool) -> Vec<(String, usize)> {
        let Ok(entries) = std::fs::read_dir(&self.v2) else {
            return Vec::new();
        };
        let mut swept = Vec::new();
        for name in entries.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
            if !name.starts_with(prefix) || !stale(&name) {
                continue;
            }
            let mut group = Cgroup::new(self.v2.join(&name), String::new(), self.has_kill);
            for (c, place) in &self.controllers {
                if let Place::V1(parent) = place {
                    group.forget_v1(*c, parent.join(&name));
                }
            }
            let held = group.procs().len();
            if group.remove().is_ok() {
                swept.push((name, held));
            }
        }
        swept
    }

    /// Which controllers can limit a cgroup here, and where.
    pub fn controllers(&self) -> impl Iterator<Item = (Controller, bool)> + '_ {
        self.controllers
            .iter()
            .map(|(c, p)| (*c, matches!(p, Place::V2)))
    }

    /// Whether the kernel has `cgroup.kill` (else every process is sent
    /// SIGKILL until none is left).
    pub fn has_kill(&self) -> bool {
        self.has_kill
    }

    /// The v2 cgroup new ones are made in.
    pub fn dir(&self) -> &Path {
        &self.v2
    }
}

/// One line for the start-up log: which mode, and why.
impl fmt::Display for CgroupRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "one cgroup per job under {} (cgroup v2{}; stopped with {})",
            self.v2.display(),
            if self.v2_mounted_here {
                ", mounted there by this process: the machine had none"
            } else {
                ""
            },
            if self.has_kill {
                "cgroup.kill"
            } else {
                "SIGKILL to each process: this kernel has no cgroup.kill"
            }
        )?;
        let limits: Vec<String> = self
            .controllers
            .iter()
            .map(|(c, p)| match p {
                Place::V2 => format!("{} (v2)", c.name()),
                Place::V1(_) => format!("{} (v1)", c.name()),
            })
            .collect();
        if limits.is_empty() {
            write!(f, "; no controller for limits")
        } else {
            write!(f, "; limits by {}", limits.join(", "))
        }
    }
}

impl Controller {
    fn v2_file(self) -> &'static str {
        match self {
            Self::Pids => "pids.max",
            Self::Memory => "memory.max",
            Self::Cpu => "cpu.weight",
        }
    }

    fn v1_file(self) -> &'static str {
        match self {
            Self::Pids => "pids.max",
            Self::Memory => "memory.limit_in_bytes",
            Self::Cpu => "cpu.shares",
        }
    }
}

/// Mounts a v2 hierarchy at [`OWN_V2_MOUNT`] (or finds it mounted there).
fn mount_own_v2() -> Result<PathBuf, CgroupError> {
    use nix::mount::{MsFlags, mount};
    let dir = PathBuf::from(OWN_V2_MOUNT);
    std::fs::create_dir_all(&dir).map_err(|e| CgroupError::Io {
        what: format!("make {}", dir.display()),
        source: e,
    })?;
    mount(
        Some("none"),
        &dir,
        Some("cgroup2"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| CgroupError::Io {
        what: format!("mount a cgroup2 hierarchy at {}", dir.display()),
        source: e.into(),
    })?;
    Ok(dir)
}

//! Where this machine's cgroup hierarchies are, and where this process is in
//! each: read from `/proc/self/mountinfo` and `/proc/self/cgroup`, as pure
//! parsers of their text.

use std::path::{Path, PathBuf};

/// A v1 controller pikaci sets limits with when the v2 hierarchy lacks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Controller {
    /// `pids`: how many processes (`pids.max`).
    Pids,
    /// `memory`: how much memory (`memory.max`, v1 `memory.limit_in_bytes`).
    Memory,
    /// `cpu`: a share of the CPU (`cpu.weight`, v1 `cpu.shares`).
    Cpu,
}

impl Controller {
    /// Every controller, in the order limits are applied.
    pub const ALL: [Controller; 3] = [Self::Pids, Self::Memory, Self::Cpu];

    /// Its name in `cgroup.controllers` and in v1 mount options.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pids => "pids",
            Self::Memory => "memory",
            Self::Cpu => "cpu",
        }
    }
}

/// The mounts that matter: the v2 hierarchy and each v1 controller's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mounts {
    /// Where a `cgroup2` file system is mounted (the first one).
    pub v2: Option<PathBuf>,
    /// Where each v1 controller's hierarchy is mounted.
    pub v1: Vec<(Controller, PathBuf)>,
}

impl Mounts {
    /// From the text of `/proc/self/mountinfo`.
    pub fn parse(mountinfo: &str) -> Self {
        let mut mounts = Self::default();
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let Some(point) = left.split(' ').nth(4) else {
                continue;
            };
            let point = PathBuf::from(unescape(point));
            let mut right = right.split(' ');
            let (Some(fstype), _, Some(options)) = (right.next(), right.next(), right.next())
            else {
                continue;
            };
            match fstype {
                "cgroup2" if mounts.v2.is_none() => mounts.v2 = Some(point),
                "cgroup" => {
                    for c in Controller::ALL {
                        if options.split(',').any(|o| o == c.name())
                            && !mounts.v1.iter().any(|(have, _)| *have == c)
                        {
                            mounts.v1.push((c, point.clone()));
                        }
                    }
                }
                _ => {}
            }
        }
        mounts
    }

    /// The mount of a v1 controller.
    pub fn v1(&self, controller: Controller) -> Option<&Path> {
        self.v1
            .iter()
            .find(|(c, _)| *c == controller)
            .map(|(_, p)| p.as_path())
    }
}

/// `\040` and the like in mountinfo paths.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 4);
        match code.and_then(|c| u8::from_str_radix(c, 8).ok()) {
            Some(b) => {
                out.push(char::from(b));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Where a process is: its v2 cgroup and its v1 cgroup per controller,
/// each relative to its hierarchy's root (`/` is the root).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Membership {
    /// The `0::PATH` line.
    pub v2: Option<String>,
    /// The `N:CONTROLLERS:PATH` lines, for the controllers pikaci uses.
    pub v1: Vec<(Controller, String)>,
}

impl Membership {
    /// From the text of `/proc/PID/cgroup`.
    pub fn parse(text: &str) -> Self {
        let mut m = Self::default();
        for line in text.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(_), Some(controllers), Some(path)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if controllers.is_empty() {
                m.v2 = Some(path.to_owned());
                continue;
            }
            for c in Controller::ALL {
                if controllers.split(',').any(|n| n == c.name()) {
                    m.v1.push((c, path.to_owned()));
                }
            }
        }
        m
    }

    /// This process's.
    pub fn of_self() -> std::io::Result<Self> {
        Ok(Self::parse(&std::fs::read_to_string("/proc/self/cgroup")?))
    }

    /// Its v1 cgroup for `controller`.
    pub fn v1(&self, controller: Controller) -> Option<&str> {
        self.v1
            .iter()
            .find(|(c, _)| *c == controller)
            .map(|(_, p)| p.as_str())
    }
}

/// `mount` joined with a cgroup path relative to it (`/a/b`).
pub(crate) fn under(mount: &Path, relative: &str) -> PathBuf {
    mount.join(relative.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine's kind: a hybrid layout (v1 controllers, v2 beside them).
    const HYBRID: &str = "\
24 1 0:21 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
25 24 0:22 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
26 24 0:23 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
27 24 0:24 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
28 24 0:25 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
29 24 0:26 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
30 24 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
31 1 0:28 / /mnt/with\\040space rw - ext4 /dev/sda rw
";

    #[test]
    fn a_hybrid_layout_has_v2_beside_the_v1_controllers() {
        let m = Mounts::parse(HYBRID);
        assert_eq!(m.v2.as_deref(), Some(Path::new("/sys/fs/cgroup/unified")));
        assert_eq!(
            m.v1(Controller::Cpu),
            Some(Path::new("/sys/fs/cgroup/cpu")),
            "cpuset and cpuacct are not cpu"
        );
        assert_eq!(
            m.v1(Controller::Pids),
            Some(Path::new("/sys/fs/cgroup/pids"))
        );
        let combined =
            "25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        assert_eq!(
            Mounts::parse(combined).v1(Controller::Cpu),
            Some(Path::new("/sys/fs/cgroup/cpu,cpuacct"))
        );
        assert_eq!(Mounts::parse("garbage\n\n"), Mounts::default());
        assert_eq!(unescape("/a\\040b"), "/a b");
    }

    #[test]
    fn membership_names_the_v2_path_and_each_v1_controllers() {
        let m = Membership::parse(
            "9:name=systemd:/\n8:pids:/p\n4:memory:/m/x\n1:cpu,cpuacct:/\n0::/lane\n",
        );
        assert_eq!(m.v2.as_deref(), Some("/lane"));
        assert_eq!(m.v1(Controller::Memory), Some("/m/x"));
        assert_eq!(m.v1(Controller::Pids), Some("/p"));
        assert_eq!(m.v1(Controller::Cpu), Some("/"));
        assert_eq!(
            under(Path::new("/sys/fs/cgroup"), "/a/b"),
            Path::new("/sys/fs/cgroup/a/b")
        );
        assert_eq!(
            under(Path::new("/sys/fs/cgroup"), "/"),
            Path::new("/sys/fs/cgroup/")
        );
    }
}

//! [`which`]: where a program is on a `PATH`, the one search both the lane
//! runner and the confinement (`setpriv`) use; [`which_as`]: the same for a
//! lane user, who may only start what its own rights let it.

use std::os::unix::fs::MetadataExt as _;

use camino::{Utf8Path, Utf8PathBuf};

/// The `PATH` a lane run as a lane user gets unless `[lanes] path` says
/// otherwise: the system's folders, none of the service's own.
pub const DEFAULT_LANE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The `PATH` searched when there is none.
const DEFAULT_PATH: &str = "/usr/bin:/bin";

/// Which entries of a `PATH` are searched. Empty entries never are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathDirs {
    /// Every entry, a relative one from the current directory, as `execvp`
    /// searches: a lane's program is found where starting it finds it.
    RelativeToo,
    /// Absolute entries only: a tool the service runs is never taken from
    /// wherever the current directory happens to be.
    AbsoluteOnly,
}

/// The first file named `program` in the directories of `path` (a `PATH`
/// value; `/usr/bin:/bin` when `None`) that `dirs` allows.
pub fn which(program: &str, path: Option<&str>, dirs: PathDirs) -> Option<Utf8PathBuf> {
    path.unwrap_or(DEFAULT_PATH)
        .split(':')
        .filter(|d| match dirs {
            PathDirs::RelativeToo => !d.is_empty(),
            PathDirs::AbsoluteOnly => d.starts_with('/'),
        })
        .map(|d| Utf8Path::new(d).join(program))
        .find(|p| p.is_file())
}

/// Whether the user `(uid, gid)` may execute the file at `path` (absolute): a regular
/// file with its execute bit for the user (owner, group or others, as the
/// kernel picks), in folders the user may search, each judged the same way.
/// Judged from permission bits only (ACLs are not read): the kernel has the
/// last word when the lane starts it.
pub fn executable_by(path: &Utf8Path, (uid, gid): (u32, u32)) -> bool {
    let may = |meta: &std::fs::Metadata| {
        let bit = if meta.uid() == uid {
            0o100
        } else if meta.gid() == gid {
            0o010
        } else {
            0o001
        };
        meta.mode() & bit != 0
    };
    if !path.is_absolute() {
        return false;
    }
    let folders_ok = path
        .ancestors()
        .skip(1)
        .all(|dir| std::fs::metadata(dir).is_ok_and(|m| m.is_dir() && may(&m)));
    folders_ok && std::fs::metadata(path).is_ok_and(|m| m.is_file() && may(&m))
}

/// The first file named `program` in the absolute folders of `path` that
/// `user` may execute ([`executable_by`]): where the lane, starting it
/// with its own rights, finds it.
pub fn which_as(program: &str, path: &str, user: (u32, u32)) -> Option<Utf8PathBuf> {
    path.split(':')
        .filter(|d| d.starts_with('/'))
        .map(|d| Utf8Path::new(d).join(program))
        .find(|p| executable_by(p, user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_entries_are_searched_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let bin = Utf8Path::from_path(dir.path()).unwrap().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(bin.join("tool-pn"), "").unwrap();
        // The current directory is the process's: a relative entry is
        // checked through an absolute one instead.
        let path = format!("::/nonexistent-pn:{bin}");
        assert_eq!(
            which("tool-pn", Some(&path), PathDirs::AbsoluteOnly),
            Some(bin.join("tool-pn"))
        );
        assert_eq!(
            which("tool-pn", Some(&path), PathDirs::RelativeToo),
            Some(bin.join("tool-pn"))
        );
        assert_eq!(
            which("tool-pn", Some("relative:"), PathDirs::RelativeToo),
            None
        );
        assert!(which("sh", None, PathDirs::AbsoluteOnly).is_some());
    }

    #[test]
    fn a_lane_user_finds_only_what_it_may_execute() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(dir.path()).unwrap();
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (open, closed) = (root.join("open"), root.join("closed"));
        for d in [&open, &closed] {
            std::fs::create_dir(d).unwrap();
            std::fs::write(d.join("tool-pn"), "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(d.join("tool-pn"), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        // A folder only its owner may search, and a file only its owner may run.
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(open.join("tool-pn"), std::fs::Permissions::from_mode(0o744))
            .unwrap();
        let lane = (3_000_123, 3_000_123);
        let path = format!("{closed}:{open}:/usr/bin:/bin");
        assert_eq!(which_as("tool-pn", &path, lane), None);
        std::fs::set_permissions(open.join("tool-pn"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        assert_eq!(which_as("tool-pn", &path, lane), Some(open.join("tool-pn")));
        assert!(which_as("sh", DEFAULT_LANE_PATH, lane).is_some());
        assert_eq!(which_as("tool-pn", "relative", lane), None);
    }
}

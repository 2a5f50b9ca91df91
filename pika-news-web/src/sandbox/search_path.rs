//! [`which`]: where a program is on a `PATH`, the one search both the lane
//! runner and the confinement (`setpriv`) use.

use camino::{Utf8Path, Utf8PathBuf};

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
}

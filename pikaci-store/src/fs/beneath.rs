//! [`Beneath`]: a state root opened once, and every path below it resolved
//! from that descriptor without following any symbolic link on the way.
//!
//! A lane can write the state root, so it can plant a link anywhere in it
//! (`runs` → `/root`, `runs/<id>/jobs` → another instance's run). Checking
//! the last component (`O_NOFOLLOW`) is not enough: a link earlier in the
//! path is still followed by the kernel. Here each path is resolved with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` from the root's
//! descriptor, or, on a kernel without `openat2`, one component at a time
//! with `O_NOFOLLOW`. The root's own path (the admin's choice) is resolved
//! normally, once.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use camino::{Utf8Component, Utf8Path, Utf8PathBuf};
use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat};

/// The state root's descriptor, opened on first use (the root may not
/// exist before pikaci's first run makes it).
#[derive(Debug)]
pub(crate) struct Beneath {
    root: Utf8PathBuf,
    fd: OnceLock<OwnedFd>,
}

/// `flags` and what every open below the root carries: never inherited,
/// never through a final link, and (unless it is an `O_PATH` open, which
/// takes no other flag) never a controlling terminal, never blocking on a
/// FIFO.
fn with_base(flags: OFlag) -> OFlag {
    let base = flags | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
    if flags.contains(OFlag::O_PATH) {
        base
    } else {
        base | OFlag::O_NOCTTY | OFlag::O_NONBLOCK
    }
}

impl Beneath {
    pub(crate) fn new(root: Utf8PathBuf) -> Self {
        Self {
            root,
            fd: OnceLock::new(),
        }
    }

    /// `path` relative to the root, if it is below it (or the root itself:
    /// the empty path).
    pub(crate) fn relative<'a>(&self, path: &'a Utf8Path) -> Option<&'a Utf8Path> {
        path.strip_prefix(&self.root).ok()
    }

    fn root_fd(&self) -> io::Result<BorrowedFd<'_>> {
        if let Some(fd) = self.fd.get() {
            return Ok(fd.as_fd());
        }
        let fd = nix::fcntl::open(
            self.root.as_std_path(),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(io::Error::from)?;
        // Two threads may race here; the loser's descriptor is dropped.
        let _ = self.fd.set(fd);
        Ok(self.fd.get().expect("set just above").as_fd())
    }

    /// Opens `rel` (relative to the root) with `flags`, following no link
    /// anywhere on the way. `ELOOP` means a link was met, `EXDEV` a way out
    /// of the root.
    pub(crate) fn open(&self, rel: &Utf8Path, flags: OFlag) -> io::Result<OwnedFd> {
        let root = self.root_fd()?;
        if rel.as_str().is_empty() {
            return openat(root, ".", with_base(flags), Mode::empty()).map_err(io::Error::from);
        }
        let how = OpenHow::new()
            .flags(with_base(flags))
            .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
        let opened = match openat2(root, rel.as_std_path(), how) {
            Err(Errno::ENOSYS) => return open_stepwise(root, rel, flags),
            other => other,
        };
        match opened {
            // O_PATH | O_NOFOLLOW opens a final link itself, which is no
            // folder: say it is a link, not that it is missing.
            Err(Errno::ENOTDIR) if flags.contains(OFlag::O_DIRECTORY) && self.is_link(rel) => {
                Err(io::Error::from(Errno::ELOOP))
            }
            other => other.map_err(io::Error::from),
        }
    }

    /// Whether `rel` itself is a symbolic link.
    fn is_link(&self, rel: &Utf8Path) -> bool {
        matches!(self.stat(rel), Ok(Some(st)) if kind_of(&st) == SFlag::S_IFLNK)
    }

    /// `lstat` of `rel`, with no link followed on the way to it: `None`
    /// when it (or a folder on the way) does not exist.
    pub(crate) fn stat(&self, rel: &Utf8Path) -> io::Result<Option<FileStat>> {
        let (parent, name) = match (rel.parent(), rel.file_name()) {
            (Some(parent), Some(name)) => (parent, name),
            _ => {
                let fd = match self.open(rel, OFlag::O_PATH) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                    other => other?,
                };
                return fstat(&fd).map(Some).map_err(io::Error::from);
            }
        };
        let dir = match self.open(parent, OFlag::O_PATH | OFlag::O_DIRECTORY) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                return Ok(None);
            }
            other => other?,
        };
        match fstatat(&dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(io::Error::from(e)),
        }
    }
}

/// What a `stat` says a file is.
pub(crate) fn kind_of(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

/// [`Beneath::open`] on a kernel without `openat2`: one component at a time,
/// each folder opened `O_NOFOLLOW | O_DIRECTORY`, so a link anywhere is
/// refused (`ELOOP`) rather than followed.
pub(crate) fn open_stepwise(
    root: BorrowedFd<'_>,
    rel: &Utf8Path,
    flags: OFlag,
) -> io::Result<OwnedFd> {
    let names: Vec<&str> = rel
        .components()
        .map(|c| match c {
            Utf8Component::Normal(name) => Ok(name),
            Utf8Component::CurDir => Ok("."),
            _ => Err(io::Error::from(Errno::EXDEV)),
        })
        .collect::<io::Result<_>>()?;
    let Some((last, folders)) = names.split_last() else {
        return openat(root, ".", with_base(flags), Mode::empty()).map_err(io::Error::from);
    };
    let mut dir: Option<OwnedFd> = None;
    for name in folders {
        let at = dir.as_ref().map_or(root, AsFd::as_fd);
        let next = match openat(
            at,
            *name,
            with_base(OFlag::O_PATH | OFlag::O_DIRECTORY),
            Mode::empty(),
        ) {
            // O_PATH | O_NOFOLLOW opens a link itself, which is no folder.
            Err(Errno::ENOTDIR) if is_link(at, name) => Err(Errno::ELOOP),
            other => other,
        }
        .map_err(io::Error::from)?;
        dir = Some(next);
    }
    let at = dir.as_ref().map_or(root, AsFd::as_fd);
    openat(at, *last, with_base(flags), Mode::empty()).map_err(io::Error::from)
}

fn is_link(dir: BorrowedFd<'_>, name: &str) -> bool {
    fstatat(dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
        .is_ok_and(|st| kind_of(&st) == SFlag::S_IFLNK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stepwise_fallback_refuses_a_link_at_any_step() {
        let d = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(d.path()).unwrap();
        std::fs::create_dir_all(root.join("runs/r/jobs")).unwrap();
        std::fs::write(root.join("runs/r/jobs/log"), "mine").unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(outside.path().join("r/jobs")).unwrap();
        std::fs::write(outside.path().join("r/jobs/log"), "secret").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("evil")).unwrap();
        let beneath = Beneath::new(root.to_owned());
        let fd = beneath.root_fd().unwrap();
        let read = |rel: &str| {
            open_stepwise(fd, Utf8Path::new(rel), OFlag::O_RDONLY)
                .map(|fd| std::io::read_to_string(std::fs::File::from(fd)).unwrap())
        };
        assert_eq!(read("runs/r/jobs/log").unwrap(), "mine");
        for rel in ["evil/r/jobs/log", "evil"] {
            let err = read(rel).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{rel}: {err}");
        }
        assert_eq!(
            read("runs/../evil/r/jobs/log").unwrap_err().raw_os_error(),
            Some(libc::EXDEV)
        );
        // And openat2 itself agrees.
        let how = OpenHow::new()
            .flags(with_base(OFlag::O_RDONLY))
            .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
        assert_eq!(
            openat2(fd, "evil/r/jobs/log", how).unwrap_err(),
            Errno::ELOOP
        );
    }
}

//! [`give_tree`]: changing who owns a whole folder tree through file
//! descriptors only, so nothing a lane does while it runs can send the walk
//! out of the tree.
//!
//! A walk by path (`lchown("dir/sub/f")`) follows `sub` wherever it points
//! at the moment of the call: a lane that owns `dir` (the same uid as the
//! worktree being handed over, or the worktree itself once its top folder was
//! given first) can swap `sub` for a link to `/etc` between the listing and
//! the chown, and the service chowns `/etc/...` to it. Here:
//!
//! - the top folder is opened once, `O_NOFOLLOW | O_DIRECTORY`, and first
//!   made `0700` while it is still the service's, so no other user can even
//!   enter the tree until the walk is over;
//! - every folder is opened relative to its parent's descriptor with
//!   `O_NOFOLLOW | O_DIRECTORY` (a link in its place is not opened, a file
//!   in its place is not a folder), and changed through its own descriptor
//!   (`fchown`): what is changed is what was opened;
//! - every other entry is changed with `fchownat(parent, name,
//!   AT_SYMLINK_NOFOLLOW)`: a link is changed itself, never its target;
//! - a folder is given away only after everything in it, and the top folder
//!   last: no folder becomes the new owner's while the walk still works in it.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

use camino::Utf8Path;
use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{Mode, fchmod};
use nix::unistd::{Gid, Uid, fchown, fchownat};

/// Who a tree is given to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// The new owner.
    pub uid: u32,
    /// The new group.
    pub gid: u32,
}

const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// Opens the folder at `path`, never through a link as its last component.
pub fn open_dir(path: &Utf8Path) -> io::Result<OwnedFd> {
    Ok(openat(
        nix::fcntl::AT_FDCWD,
        path.as_std_path(),
        DIR_FLAGS,
        Mode::empty(),
    )?)
}

/// Opens the folder `name` in the folder open at `parent`, never through a link.
pub fn open_dir_at(parent: &OwnedFd, name: &str) -> io::Result<OwnedFd> {
    Ok(openat(parent.as_fd(), name, DIR_FLAGS, Mode::empty())?)
}

/// Gives the tree at `dir` to `owner` (see the module's comment for how).
/// With `top_mode`, the top folder gets that mode first, while it is still
/// the service's (`0o700` for a worktree: only its new owner may enter it).
pub fn give_tree(dir: &Utf8Path, owner: Owner, top_mode: Option<u32>) -> io::Result<()> {
    let top = open_dir(dir)?;
    if let Some(mode) = top_mode {
        fchmod(&top, Mode::from_bits_truncate(mode))?;
    }
    give_entries(&top, owner)?;
    fchown(
        &top,
        Some(Uid::from_raw(owner.uid)),
        Some(Gid::from_raw(owner.gid)),
    )?;
    Ok(())
}

/// The names in the folder open at `dir` (without `.` and `..`), with their
/// type when the file system says it.
fn entries(dir: &OwnedFd) -> io::Result<Vec<(CString, Option<Type>)>> {
    // The listing gets its own descriptor: `Dir` closes what it is given.
    let mut listing = Dir::from_fd(dir.try_clone()?)?;
    let mut names = Vec::new();
    for entry in listing.iter() {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_bytes() == b"." || name.to_bytes() == b".." {
            continue;
        }
        names.push((name.to_owned(), entry.file_type()));
    }
    Ok(names)
}

/// Gives everything inside the folder open at `dir` to `owner`, depth first.
fn give_entries(dir: &OwnedFd, owner: Owner) -> io::Result<()> {
    let (uid, gid) = (Uid::from_raw(owner.uid), Gid::from_raw(owner.gid));
    for (name, kind) in entries(dir)? {
        let may_be_dir = matches!(kind, Some(Type::Directory) | None);
        let child = if may_be_dir {
            match openat(dir.as_fd(), name.as_c_str(), DIR_FLAGS, Mode::empty()) {
                Ok(fd) => Some(fd),
                // Not a folder (any more): a link or a file, changed below.
                Err(Errno::ENOTDIR | Errno::ELOOP) => None,
                // Gone since the listing: nothing to give.
                Err(Errno::ENOENT) => continue,
                Err(e) => return Err(e.into()),
            }
        } else {
            None
        };
        match child {
            Some(fd) => {
                give_entries(&fd, owner)?;
                fchown(&fd, Some(uid), Some(gid))?;
            }
            None => match fchownat(
                dir.as_fd(),
                name.as_c_str(),
                Some(uid),
                Some(gid),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            ) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => return Err(e.into()),
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt as _;

    use super::*;

    fn owner_of(p: &std::path::Path) -> (u32, u32) {
        let m = std::fs::symlink_metadata(p).unwrap();
        (m.uid(), m.gid())
    }

    #[test]
    fn every_entry_is_given_links_themselves_and_never_their_targets() {
        if !Uid::effective().is_root() {
            panic!("this test changes owners: run it as root (the test setup's machine does)");
        }
        let tmp = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(tmp.path()).unwrap();
        let outside = root.join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("secret"), "s").unwrap();
        let tree = root.join("tree");
        std::fs::create_dir_all(tree.join("a/b/c")).unwrap();
        std::fs::write(tree.join("a/b/c/f"), "f").unwrap();
        std::fs::write(tree.join("top-file"), "t").unwrap();
        std::os::unix::fs::symlink(&outside, tree.join("a/link-to-outside")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), tree.join("link-to-secret")).unwrap();
        let owner = Owner {
            uid: 4_000_123,
            gid: 4_000_456,
        };
        give_tree(&tree, owner, Some(0o700)).unwrap();
        for p in [
            "",
            "a",
            "a/b",
            "a/b/c",
            "a/b/c/f",
            "top-file",
            "a/link-to-outside",
            "link-to-secret",
        ] {
            assert_eq!(
                owner_of(tree.join(p).as_std_path()),
                (owner.uid, owner.gid),
                "{p}"
            );
        }
        assert_eq!(owner_of(outside.as_std_path()), (0, 0));
        assert_eq!(owner_of(outside.join("secret").as_std_path()), (0, 0));
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&tree).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o700);
    }

    #[test]
    fn a_top_folder_that_is_a_link_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Utf8Path::from_path(tmp.path()).unwrap();
        std::fs::create_dir(root.join("real")).unwrap();
        std::os::unix::fs::symlink(root.join("real"), root.join("link")).unwrap();
        let err = give_tree(&root.join("link"), Owner { uid: 1, gid: 1 }, None).unwrap_err();
        assert!(
            matches!(err.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)),
            "{err}"
        );
    }
}

//! The [`Fs`] trait, its read handle [`ReadAt`], and [`EntryKind`].

use std::io;

use camino::Utf8Path;
use pikaci_core::process::LogSink;

use super::FolderHold;

/// What a path is, without following a final symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed by the store).
    Symlink,
    /// Anything else (socket, device, ...).
    Other,
}

/// The error of [`Fs::read`] for a file over its bound: `{size} bytes is
/// larger than the {max} bytes accepted`.
pub fn too_large(size: u64, max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("{size} bytes is larger than the {max} bytes accepted"),
    )
}

/// What identifies one version of a file: which file it is (device and
/// inode) and how it looks now (size, modification time). An append-only log
/// that grows gets a new identity; one that does not, keeps it. HTTP answers
/// make their `ETag` from it, caches key on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileIdentity {
    /// The device the file is on (0 where there is none, as in [`MemFs`](crate::MemFs)).
    pub dev: u64,
    /// The file's inode (0 where there is none).
    pub ino: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Its modification time, in nanoseconds since the Unix epoch (0 where unknown).
    pub mtime_ns: i128,
}

/// An open regular file, read by position: what [`Fs::open_read`] returns.
pub trait ReadAt: Send + Sync {
    /// Reads into `buf` from byte `offset`; how many bytes were read, 0 at the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    /// The file's size now (it grows while a job appends).
    fn size(&self) -> io::Result<u64>;
    /// Where the next byte of data at or after `offset` is, skipping holes
    /// of a sparse file (`SEEK_DATA`); `None` when only a hole is left to
    /// the end. By default `offset` itself (a file system without holes).
    /// A hole reads as zeros, so a reader looking for text may skip it.
    fn next_data(&self, offset: u64) -> io::Result<Option<u64>> {
        Ok(Some(offset))
    }
    /// The file's identity now. By default its size alone (a file system
    /// without inodes or times).
    fn identity(&self) -> io::Result<FileIdentity> {
        Ok(FileIdentity {
            size: self.size()?,
            ..FileIdentity::default()
        })
    }
}

/// The filesystem operations the store is built on.
///
/// Contract (checked by one test suite against every implementation):
/// - `write_atomic` leaves either the old or the new content at `path`, never a
///   mix, even with concurrent readers; it creates missing parent folders.
/// - `open_append` creates the file (and parents) and appends; what is written
///   is visible at once to a handle from `open_read`.
/// - Opens (reads and appends) never follow a symbolic link at the final
///   component, never wait on a FIFO, and accept only a regular file, as
///   checked on the opened descriptor: anything else is
///   `io::ErrorKind::InvalidInput` naming what it is (`guest.log is a FIFO,
///   not a file`).
/// - A missing path is `io::ErrorKind::NotFound` (or `None` where the return
///   type is an `Option`).
pub trait Fs: Send + Sync {
    /// Replaces `path` atomically with `bytes` (temp file, fsync, rename).
    fn write_atomic(&self, path: &Utf8Path, bytes: &[u8]) -> io::Result<()>;
    /// Reads a whole (small) file of at most `max` bytes; a larger one is
    /// `io::ErrorKind::FileTooLarge` (see [`too_large`]), read no further.
    fn read(&self, path: &Utf8Path, max: u64) -> io::Result<Vec<u8>>;
    /// Opens a regular file for positional reads. The handle keeps reading the
    /// file it opened (and sees what is appended to it), whatever later
    /// happens to `path`.
    fn open_read(&self, path: &Utf8Path) -> io::Result<Box<dyn ReadAt>>;
    /// The size of a regular file, `None` when it does not exist.
    fn size(&self, path: &Utf8Path) -> io::Result<Option<u64>>;
    /// What `path` is, `None` when it does not exist.
    fn kind(&self, path: &Utf8Path) -> io::Result<Option<EntryKind>>;
    /// The identity of the regular file at `path` (a final link is never
    /// followed, and is an error as in [`size`](Self::size)), `None` when it
    /// does not exist; for caches keyed on a file's version. A file system
    /// that cannot tell one version of a file from another answers
    /// `ErrorKind::Unsupported` (the default), and nothing is cached.
    fn identity(&self, path: &Utf8Path) -> io::Result<Option<FileIdentity>> {
        let _ = path;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this file system has no file identities",
        ))
    }
    /// Opens `path` for appending, creating it and its parents.
    fn open_append(&self, path: &Utf8Path) -> io::Result<Box<dyn LogSink>>;
    /// The names in a folder (unsorted). A missing folder is `NotFound`.
    fn list_dir(&self, path: &Utf8Path) -> io::Result<Vec<String>>;
    /// Creates a folder and its parents.
    fn create_dir_all(&self, path: &Utf8Path) -> io::Result<()>;
    /// Creates one folder (its parent must exist); `AlreadyExists` if it is there.
    fn create_dir(&self, path: &Utf8Path) -> io::Result<()>;
    /// Renames a file or folder (replacing a file at `to`).
    fn rename(&self, from: &Utf8Path, to: &Utf8Path) -> io::Result<()>;
    /// Removes a folder and everything in it (a symbolic link is removed, not followed).
    fn remove_dir_all(&self, path: &Utf8Path) -> io::Result<()>;
    /// Holds the folder `path` (never through a symbolic link) shared,
    /// waiting while it is held exclusively. Other processes see the hold;
    /// it ends when the returned value is dropped or the process ends.
    fn hold_shared(&self, path: &Utf8Path) -> io::Result<FolderHold>;
    /// Holds the folder `path` exclusively if nobody holds it;
    /// `ErrorKind::WouldBlock` when someone does.
    fn try_hold_exclusive(&self, path: &Utf8Path) -> io::Result<FolderHold>;
    /// Whether someone holds the folder `path` exclusively (a run's owner
    /// while it runs), found by trying a shared hold without waiting and
    /// releasing it at once: nothing is written, and a shared holder (a
    /// rerun) is not mistaken for the owner. By default `Unsupported`.
    fn held_exclusively(&self, path: &Utf8Path) -> io::Result<bool> {
        let _ = path;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this file system has no folder holds to try",
        ))
    }
    /// When the entry at `path` (never through a final link) was last
    /// modified, `None` when it does not exist. By default `Unsupported`.
    fn modified(&self, path: &Utf8Path) -> io::Result<Option<std::time::SystemTime>> {
        let _ = path;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this file system keeps no modification times",
        ))
    }
}

impl<T: Fs + ?Sized> Fs for std::sync::Arc<T> {
    fn write_atomic(&self, path: &Utf8Path, bytes: &[u8]) -> io::Result<()> {
        (**self).write_atomic(path, bytes)
    }
    fn read(&self, path: &Utf8Path, max: u64) -> io::Result<Vec<u8>> {
        (**self).read(path, max)
    }
    fn open_read(&self, path: &Utf8Path) -> io::Result<Box<dyn ReadAt>> {
        (**self).open_read(path)
    }
    fn size(&self, path: &Utf8Path) -> io::Result<Option<u64>> {
        (**self).size(path)
    }
    fn kind(&self, path: &Utf8Path) -> io::Result<Option<EntryKind>> {
        (**self).kind(path)
    }
    fn identity(&self, path: &Utf8Path) -> io::Result<Option<FileIdentity>> {
        (**self).identity(path)
    }
    fn open_append(&self, path: &Utf8Path) -> io::Result<Box<dyn LogSink>> {
        (**self).open_append(path)
    }
    fn list_dir(&self, path: &Utf8Path) -> io::Result<Vec<String>> {
        (**self).list_dir(path)
    }
    fn create_dir_all(&self, path: &Utf8Path) -> io::Result<()> {
        (**self).create_dir_all(path)
    }
    fn create_dir(&self, path: &Utf8Path) -> io::Result<()> {
        (**self).create_dir(path)
    }
    fn rename(&self, from: &Utf8Path, to: &Utf8Path) -> io::Result<()> {
        (**self).rename(from, to)
    }
    fn remove_dir_all(&self, path: &Utf8Path) -> io::Result<()> {
        (**self).remove_dir_all(path)
    }
    fn hold_shared(&self, path: &Utf8Path) -> io::Result<FolderHold> {
        (**self).hold_shared(path)
    }
    fn try_hold_exclusive(&self, path: &Utf8Path) -> io::Result<FolderHold> {
        (**self).try_hold_exclusive(path)
    }
    fn held_exclusively(&self, path: &Utf8Path) -> io::Result<bool> {
        (**self).held_exclusively(path)
    }
    fn modified(&self, path: &Utf8Path) -> io::Result<Option<std::time::SystemTime>> {
        (**self).modified(path)
    }
}

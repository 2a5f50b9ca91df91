//! [`DiskFs`]: the real file system, through `std::fs`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::process::LogSink;

use nix::fcntl::OFlag;
use nix::sys::stat::SFlag;

use super::beneath::{self, Beneath};
use super::hold::held_elsewhere;
use super::{EntryKind, FileIdentity, FolderHold, Fs, ReadAt, too_large};

/// The real file system.
///
/// Made for a state root ([`DiskFs::beneath`], what [`Store::open`](crate::Store::open)
/// uses), it opens the root once and reads every path below it from that
/// descriptor without following a symbolic link anywhere on the way
/// (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, or one
/// `O_NOFOLLOW` step at a time): a link a job planted as `runs`, a run
/// folder, `jobs` or a log is refused, never followed. Writes (pikaci's
/// own) and paths outside the root use the path as given, never through a
/// final link.
#[derive(Debug, Clone, Default)]
pub struct DiskFs {
    beneath: Option<Arc<Beneath>>,
}

impl DiskFs {
    /// The real file system, each path taken as given (a final link is
    /// never followed; links earlier in the path are).
    pub fn new() -> Self {
        Self::default()
    }

    /// The real file system for the state root `root`: every read below it
    /// resolved from the root's descriptor (opened on first use), never
    /// through a link.
    pub fn beneath(root: impl Into<Utf8PathBuf>) -> Self {
        Self {
            beneath: Some(Arc::new(Beneath::new(root.into()))),
        }
    }

    /// The root and `path` relative to it, when `path` is below the root.
    fn below<'a>(&self, path: &'a Utf8Path) -> Option<(&Beneath, &'a Utf8Path)> {
        let beneath = self.beneath.as_deref()?;
        Some((beneath, beneath.relative(path)?))
    }

    /// Opens a regular file to read it: below the root without following
    /// any link, elsewhere as [`open_checked`] does.
    fn open_for_read(&self, path: &Utf8Path) -> io::Result<File> {
        let Some((beneath, rel)) = self.below(path) else {
            return open_checked(path, OpenOptions::new().read(true));
        };
        let file = File::from(
            beneath
                .open(rel, OFlag::O_RDONLY)
                .map_err(|e| refine_beneath_error(e, beneath, rel, path))?,
        );
        let kind = file.metadata()?.file_type();
        if !kind.is_file() {
            return Err(not_a_file(path, kind));
        }
        Ok(file)
    }

    /// `lstat` of `path`, below the root through no link: `None` when missing.
    fn lstat(&self, path: &Utf8Path) -> io::Result<Option<Stat>> {
        match self.below(path) {
            Some((beneath, rel)) => match beneath.stat(rel) {
                Ok(found) => Ok(found.map(Stat::Beneath)),
                Err(e) => Err(refine_beneath_error(e, beneath, rel, path)),
            },
            None => match std::fs::symlink_metadata(path) {
                Ok(m) => Ok(Some(Stat::Std(m))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            },
        }
    }
}

/// What an `lstat` found, by either way of looking.
enum Stat {
    Std(std::fs::Metadata),
    Beneath(nix::sys::stat::FileStat),
}

impl Stat {
    fn kind(&self) -> EntryKind {
        match self {
            Self::Std(m) => {
                let t = m.file_type();
                if t.is_symlink() {
                    EntryKind::Symlink
                } else if t.is_dir() {
                    EntryKind::Dir
                } else if t.is_file() {
                    EntryKind::File
                } else {
                    EntryKind::Other
                }
            }
            Self::Beneath(st) => match beneath::kind_of(st) {
                SFlag::S_IFLNK => EntryKind::Symlink,
                SFlag::S_IFDIR => EntryKind::Dir,
                SFlag::S_IFREG => EntryKind::File,
                _ => EntryKind::Other,
            },
        }
    }

    fn identity(&self) -> FileIdentity {
        match self {
            Self::Std(m) => identity_of(m),
            Self::Beneath(st) => FileIdentity {
                dev: st.st_dev,
                ino: st.st_ino,
                size: u64::try_from(st.st_size).unwrap_or(0),
                mtime_ns: i128::from(st.st_mtime) * 1_000_000_000 + i128::from(st.st_mtime_nsec),
            },
        }
    }

    /// The error for a path that should be a regular file and is this.
    fn not_a_file(&self, path: &Utf8Path) -> io::Error {
        match self {
            Self::Std(m) => not_a_file(path, m.file_type()),
            Self::Beneath(st) => match beneath::kind_of(st) {
                SFlag::S_IFLNK => symlink_error(path),
                SFlag::S_IFIFO => described(path, "a FIFO"),
                SFlag::S_IFSOCK => described(path, "a socket"),
                SFlag::S_IFCHR => described(path, "a character device"),
                SFlag::S_IFBLK => described(path, "a block device"),
                SFlag::S_IFDIR => described(path, "a folder"),
                _ => described(path, "a special file"),
            },
        }
    }
}

/// Says what an open or `lstat` below the root met: `ELOOP` is a link (the
/// file itself, or a folder on the way), `EXDEV` a way out of the root,
/// `ENXIO`/`EISDIR` something that is not a file.
fn refine_beneath_error(
    e: io::Error,
    beneath: &Beneath,
    rel: &Utf8Path,
    path: &Utf8Path,
) -> io::Error {
    match e.raw_os_error() {
        Some(libc::ELOOP) => match beneath.stat(rel) {
            Ok(Some(st)) if beneath::kind_of(&st) == SFlag::S_IFLNK => symlink_error(path),
            _ => io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{path} is reached through a symbolic link, which is never followed"),
            ),
        },
        Some(libc::EXDEV) => io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{path} leads out of the state root"),
        ),
        Some(libc::ENXIO | libc::EISDIR) => match beneath.stat(rel) {
            Ok(Some(st)) if beneath::kind_of(&st) != SFlag::S_IFREG => {
                Stat::Beneath(st).not_a_file(path)
            }
            _ => e,
        },
        _ => e,
    }
}

/// Distinguishes temporary files of concurrent writers in one process.
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// An append-only log file on disk.
struct DiskLog(File);

impl Write for DiskLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl LogSink for DiskLog {
    fn as_file(&self) -> Option<&File> {
        Some(&self.0)
    }
}

/// A regular file opened for reading.
struct DiskFile(File);

impl ReadAt for DiskFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        loop {
            match FileExt::read_at(&self.0, buf, offset) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => return other,
            }
        }
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }

    fn identity(&self) -> io::Result<FileIdentity> {
        Ok(identity_of(&self.0.metadata()?))
    }

    fn next_data(&self, offset: u64) -> io::Result<Option<u64>> {
        let Ok(at) = i64::try_from(offset) else {
            return Ok(None);
        };
        // Reads are positional (pread), so moving the descriptor's offset
        // here disturbs nothing.
        match nix::unistd::lseek(&self.0, at, nix::unistd::Whence::SeekData) {
            Ok(data) => Ok(Some(u64::try_from(data).unwrap_or(offset))),
            Err(nix::errno::Errno::ENXIO) => Ok(None),
            // A file system that cannot tell: no hole is known.
            Err(nix::errno::Errno::EINVAL | nix::errno::Errno::EOPNOTSUPP) => Ok(Some(offset)),
            Err(e) => Err(io::Error::from(e)),
        }
    }
}

/// The identity `fstat`/`lstat` gave.
pub(crate) fn identity_of(m: &std::fs::Metadata) -> FileIdentity {
    use std::os::unix::fs::MetadataExt;
    FileIdentity {
        dev: m.dev(),
        ino: m.ino(),
        size: m.len(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
    }
}

/// Opens a file that a job may have written (or replaced): never through a
/// final symbolic link (`O_NOFOLLOW`), never waiting on a FIFO (`O_NONBLOCK`:
/// an open for reading returns at once, one for writing fails at once when
/// nobody reads), and refused unless the descriptor opened is a regular file.
/// The check is on what was opened, not on the path looked at before, so a
/// file swapped for a FIFO in between is still refused. `O_NONBLOCK` changes
/// nothing for a regular file.
fn open_checked(path: &Utf8Path, options: &mut OpenOptions) -> io::Result<File> {
    let file = options
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| refine_open_error(e, path))?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(not_a_file(path, kind));
    }
    Ok(file)
}

/// `{path} is a FIFO, not a file` (the store takes the folder out of it).
fn not_a_file(path: &Utf8Path, kind: std::fs::FileType) -> io::Error {
    use std::os::unix::fs::FileTypeExt;
    let what = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_dir() {
        "a folder"
    } else if kind.is_symlink() {
        return symlink_error(path);
    } else {
        "a special file"
    };
    described(path, what)
}

/// `{path} is {what}, not a file`.
fn described(path: &Utf8Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{path} is {what}, not a file"),
    )
}

fn symlink_error(path: &Utf8Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{path} is a symbolic link, which is never followed"),
    )
}

/// Says what an open that failed met: `O_NOFOLLOW` on a link fails with
/// `ELOOP`, `O_NONBLOCK` on a FIFO nobody reads with `ENXIO`.
fn refine_open_error(e: io::Error, path: &Utf8Path) -> io::Error {
    match e.raw_os_error() {
        Some(libc::ELOOP) => symlink_error(path),
        Some(libc::ENXIO | libc::EISDIR) => match std::fs::symlink_metadata(path) {
            Ok(m) if !m.is_file() => not_a_file(path, m.file_type()),
            _ => e,
        },
        _ => e,
    }
}

/// fsyncs a folder (after a rename in it), opened as a folder only.
fn sync_dir(dir: &Utf8Path) -> io::Result<()> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(dir)?
        .sync_all()
}

/// Creates a new temporary file beside `path`: a name nobody has (made with
/// `O_EXCL`, which also refuses a link or a FIFO planted under that name).
fn create_temp(dir: &Utf8Path, name: &str) -> io::Result<(Utf8PathBuf, File)> {
    loop {
        let tmp = dir.join(format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(fs_err_like(e, "creating", &tmp)),
        }
    }
}

/// An I/O error with the path it concerns, as `fs_err` words them.
fn fs_err_like(e: io::Error, doing: &str, path: &Utf8Path) -> io::Error {
    io::Error::new(e.kind(), format!("failed {doing} `{path}`: {e}"))
}

/// Opens the folder `path` itself (never through a final symbolic link)
/// and `flock`s it as `how` says.
fn flock_folder(path: &Utf8Path, how: nix::fcntl::FlockArg) -> io::Result<FolderHold> {
    let dir = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| fs_err_like(e, "opening", path))?;
    match nix::fcntl::Flock::lock(dir, how) {
        Ok(lock) => Ok(FolderHold::new(lock)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(held_elsewhere(path)),
        Err((_, e)) => Err(fs_err_like(io::Error::from(e), "locking", path)),
    }
}

impl Fs for DiskFs {
    fn write_atomic(&self, path: &Utf8Path, bytes: &[u8]) -> io::Result<()> {
        let dir = path.parent().unwrap_or(Utf8Path::new("."));
        fs_err::create_dir_all(dir)?;
        let name = path.file_name().unwrap_or("file");
        let (tmp, mut f) = create_temp(dir, name)?;
        let result = (|| {
            f.write_all(bytes)?;
            f.sync_all()?;
            drop(f);
            fs_err::rename(&tmp, path)?;
            sync_dir(dir)
        })();
        if result.is_err() {
            // Leave the old file as it was and no temporary litter behind.
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn read(&self, path: &Utf8Path, max: u64) -> io::Result<Vec<u8>> {
        let file = self.open_for_read(path)?;
        let size = file.metadata()?.len();
        if size > max {
            return Err(too_large(size, max));
        }
        let mut out = Vec::with_capacity(size as usize);
        // The file may grow while it is read: never past the bound.
        io::Read::read_to_end(&mut io::Read::take(&file, max.saturating_add(1)), &mut out)?;
        if out.len() as u64 > max {
            return Err(too_large(out.len() as u64, max));
        }
        Ok(out)
    }

    fn open_read(&self, path: &Utf8Path) -> io::Result<Box<dyn ReadAt>> {
        Ok(Box::new(DiskFile(self.open_for_read(path)?)))
    }

    fn size(&self, path: &Utf8Path) -> io::Result<Option<u64>> {
        Ok(self.identity(path)?.map(|id| id.size))
    }

    fn identity(&self, path: &Utf8Path) -> io::Result<Option<FileIdentity>> {
        match self.lstat(path)? {
            Some(st) if st.kind() == EntryKind::File => Ok(Some(st.identity())),
            Some(st) => Err(st.not_a_file(path)),
            None => Ok(None),
        }
    }

    fn kind(&self, path: &Utf8Path) -> io::Result<Option<EntryKind>> {
        Ok(self.lstat(path)?.map(|st| st.kind()))
    }

    fn open_append(&self, path: &Utf8Path) -> io::Result<Box<dyn LogSink>> {
        if let Some(dir) = path.parent() {
            fs_err::create_dir_all(dir)?;
        }
        let file = open_checked(path, OpenOptions::new().create(true).append(true))?;
        Ok(Box::new(DiskLog(file)))
    }

    fn list_dir(&self, path: &Utf8Path) -> io::Result<Vec<String>> {
        if let Some((beneath, rel)) = self.below(path) {
            let fd = beneath
                .open(rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                .map_err(|e| refine_beneath_error(e, beneath, rel, path))?;
            let mut dir = nix::dir::Dir::from_fd(fd).map_err(io::Error::from)?;
            let mut names = Vec::new();
            for entry in dir.iter() {
                let entry = entry.map_err(io::Error::from)?;
                if let Ok(name) = entry.file_name().to_str()
                    && name != "."
                    && name != ".."
                {
                    names.push(name.to_owned());
                }
            }
            return Ok(names);
        }
        let mut names = Vec::new();
        for entry in std::fs::read_dir(path)? {
            if let Ok(name) = entry?.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }

    fn create_dir_all(&self, path: &Utf8Path) -> io::Result<()> {
        fs_err::create_dir_all(path)
    }

    fn create_dir(&self, path: &Utf8Path) -> io::Result<()> {
        std::fs::create_dir(path)
    }

    fn rename(&self, from: &Utf8Path, to: &Utf8Path) -> io::Result<()> {
        fs_err::rename(from, to)
    }

    fn remove_dir_all(&self, path: &Utf8Path) -> io::Result<()> {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => fs_err::remove_file(path),
            _ => match fs_err::remove_dir_all(path) {
                // A run's snapshot is made read-only (folders 0555) so jobs
                // cannot change it; its owner may still delete it.
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                    unlock_folders(path.as_std_path())?;
                    fs_err::remove_dir_all(path)
                }
                other => other,
            },
        }
    }

    fn hold_shared(&self, path: &Utf8Path) -> io::Result<FolderHold> {
        flock_folder(path, nix::fcntl::FlockArg::LockShared)
    }

    fn try_hold_exclusive(&self, path: &Utf8Path) -> io::Result<FolderHold> {
        flock_folder(path, nix::fcntl::FlockArg::LockExclusiveNonblock)
    }

    fn held_exclusively(&self, path: &Utf8Path) -> io::Result<bool> {
        // The folder opened read-only, a shared lock tried and dropped at
        // once: a reader needs no write access and holds nothing.
        match flock_folder(path, nix::fcntl::FlockArg::LockSharedNonblock) {
            Ok(_released) => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(true),
            Err(e) => Err(e),
        }
    }

    fn modified(&self, path: &Utf8Path) -> io::Result<Option<std::time::SystemTime>> {
        match std::fs::symlink_metadata(path) {
            Ok(m) => m.modified().map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(fs_err_like(e, "looking at", path)),
        }
    }
}

/// Gives the owner write access to `dir` and every folder under it, so their
/// entries can be removed. Links are never followed, files are left alone.
fn unlock_folders(dir: &std::path::Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::symlink_metadata(dir)?.permissions().mode();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o700))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            unlock_folders(&entry.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &std::path::Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn read_only_folders_are_unlocked_without_following_links() {
        let d = tempfile::tempdir().unwrap();
        let tree = d.path().join("tree");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(tree.join("a/b")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(tree.join("a/b/f"), "x").unwrap();
        std::os::unix::fs::symlink(&outside, tree.join("a/link")).unwrap();
        for p in [&outside, &tree.join("a/b"), &tree.join("a"), &tree] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o555)).unwrap();
        }
        std::fs::set_permissions(tree.join("a/b/f"), std::fs::Permissions::from_mode(0o444))
            .unwrap();
        unlock_folders(&tree).unwrap();
        for p in [&tree, &tree.join("a"), &tree.join("a/b")] {
            assert_eq!(mode(p), 0o755, "{}", p.display());
        }
        assert_eq!(mode(&tree.join("a/b/f")), 0o444, "files are left alone");
        assert_eq!(mode(&outside), 0o555, "a link's target is never touched");
        let tree = Utf8Path::from_path(&tree).unwrap();
        DiskFs::new().remove_dir_all(tree).unwrap();
        assert!(!tree.exists());
        assert!(outside.exists());
    }
}

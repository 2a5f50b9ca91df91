//! [`DiskFs`]: the real file system, through `std::fs`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::sync::atomic::{AtomicU64, Ordering};

use camino::Utf8Path;
use pikaci_core::engine::LogSink;

use super::{EntryKind, Fs, ReadAt};

/// The real file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiskFs;

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

/// Opens a regular file for reading: never through a final symbolic link, and
/// never blocking on a FIFO (`O_NONBLOCK` does nothing to reads of a regular
/// file; anything else is refused once open).
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
}

fn open_nofollow(path: &Utf8Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| refine_symlink_error(e, path))?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{path} is not a regular file"),
        ));
    }
    Ok(file)
}

/// `O_NOFOLLOW` on a link fails with `ELOOP`; say what it means.
fn refine_symlink_error(e: io::Error, path: &Utf8Path) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{path} is a symbolic link, which is never followed"),
        )
    } else {
        e
    }
}

fn sync_dir(dir: &Utf8Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Fs for DiskFs {
    fn write_atomic(&self, path: &Utf8Path, bytes: &[u8]) -> io::Result<()> {
        let dir = path.parent().unwrap_or(Utf8Path::new("."));
        fs_err::create_dir_all(dir)?;
        let name = path.file_name().unwrap_or("file");
        let tmp = dir.join(format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            let mut f = fs_err::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs_err::rename(&tmp, path)?;
            sync_dir(dir)
        })();
        if result.is_err() {
            // Leave the old file as it was and no temporary litter behind.
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn read(&self, path: &Utf8Path) -> io::Result<Vec<u8>> {
        let file = open_nofollow(path)?;
        let mut out = Vec::with_capacity(file.metadata()?.len() as usize);
        io::Read::read_to_end(&mut &file, &mut out)?;
        Ok(out)
    }

    fn open_read(&self, path: &Utf8Path) -> io::Result<Box<dyn ReadAt>> {
        Ok(Box::new(DiskFile(open_nofollow(path)?)))
    }

    fn size(&self, path: &Utf8Path) -> io::Result<Option<u64>> {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(m) if m.file_type().is_symlink() => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{path} is a symbolic link, which is never followed"),
            )),
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{path} is not a regular file"),
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn kind(&self, path: &Utf8Path) -> io::Result<Option<EntryKind>> {
        match std::fs::symlink_metadata(path) {
            Ok(m) => {
                let t = m.file_type();
                Ok(Some(if t.is_symlink() {
                    EntryKind::Symlink
                } else if t.is_dir() {
                    EntryKind::Dir
                } else if t.is_file() {
                    EntryKind::File
                } else {
                    EntryKind::Other
                }))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn open_append(&self, path: &Utf8Path) -> io::Result<Box<dyn LogSink>> {
        if let Some(dir) = path.parent() {
            fs_err::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| refine_symlink_error(e, path))?;
        Ok(Box::new(DiskLog(file)))
    }

    fn list_dir(&self, path: &Utf8Path) -> io::Result<Vec<String>> {
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
            _ => fs_err::remove_dir_all(path),
        }
    }
}

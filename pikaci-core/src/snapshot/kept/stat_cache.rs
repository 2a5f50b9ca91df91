//! [`StatCache`]: which object a source file's bytes are, remembered by the
//! file's identity and stamps (device, inode, size, modification and change
//! times, like git's index), so a later snapshot copies an unchanged file
//! without reading it through user space or hashing it again.
//!
//! A file is remembered only when both its times are older than the
//! snapshot's *cutoff* (its start less [`SETTLE`]): a write during or after
//! the snapshot then always moves the change time past what was remembered
//! (git's "racy" rule; the change time cannot be set from user space, so a
//! tool that restores the modification time does not hide a change). What
//! the cache says is only a hint: the object it names must exist, and the
//! file's stamps must be the same before and after its copy, or the file is
//! read and hashed as if the cache had not named it.
//!
//! The format (one file per source folder, in `objects/cache/`):
//! `pikaci-stat-cache/1\n`, then records of [`RECORD`] bytes (device,
//! inode, size, mtime ns, ctime ns as little-endian 64-bit numbers, then the
//! object's 32 bytes), then the SHA-256 of everything before it. A file with
//! any other shape (torn, truncated, written by hand) is ignored whole.

use std::collections::HashMap;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::time::{Duration, SystemTime};

use camino::{Utf8Path, Utf8PathBuf};
use sha2::{Digest, Sha256};

use super::manifest::ObjectId;

/// The first line of a cache file.
const HEADER: &[u8] = b"pikaci-stat-cache/1\n";

/// The bytes of one record.
const RECORD: usize = 5 * 8 + 32;

/// A cache file larger than this is ignored (about 900,000 files).
const MAX_BYTES: u64 = 64 << 20;

/// How much older than the snapshot's start a file's times must be for the
/// file to be remembered: far more than the kernel's timestamp clock lags
/// behind the wall clock (a tick), and than the 1-second granularity some
/// file systems store.
pub(super) const SETTLE: Duration = Duration::from_secs(2);

/// A source file's identity and stamps, as `fstat` gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

impl FileStamp {
    /// The stamp of an open file's metadata.
    pub(super) fn of(meta: &Metadata) -> Self {
        let ns = |secs: i64, nsec: i64| secs.saturating_mul(1_000_000_000).saturating_add(nsec);
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The file's size in bytes.
    pub(super) fn size(&self) -> u64 {
        self.size
    }

    /// Whether both times are older than `cutoff` (nanoseconds since the
    /// epoch): only then may the file be remembered.
    pub(super) fn settled_before(&self, cutoff: i64) -> bool {
        self.mtime_ns < cutoff && self.ctime_ns < cutoff
    }
}

/// The cutoff of a snapshot starting now: [`SETTLE`] ago, in nanoseconds
/// since the epoch.
pub(super) fn cutoff_now() -> i64 {
    let then = SystemTime::now()
        .checked_sub(SETTLE)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    then.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Remembered objects by file stamp.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct StatCache {
    entries: HashMap<(u64, u64), (FileStamp, ObjectId)>,
}

impl StatCache {
    /// The object remembered for a file with exactly this stamp.
    pub(super) fn get(&self, stamp: &FileStamp) -> Option<ObjectId> {
        self.entries
            .get(&(stamp.dev, stamp.ino))
            .filter(|(known, _)| known == stamp)
            .map(|(_, id)| *id)
    }

    /// Remembers `id` for `stamp`.
    pub(super) fn insert(&mut self, stamp: FileStamp, id: ObjectId) {
        self.entries.insert((stamp.dev, stamp.ino), (stamp, id));
    }

    /// The cache's bytes.
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER.len() + self.entries.len() * RECORD + 32);
        out.extend_from_slice(HEADER);
        for (stamp, id) in self.entries.values() {
            for n in [stamp.dev, stamp.ino, stamp.size] {
                out.extend_from_slice(&n.to_le_bytes());
            }
            for n in [stamp.mtime_ns, stamp.ctime_ns] {
                out.extend_from_slice(&n.to_le_bytes());
            }
            out.extend_from_slice(id.as_bytes());
        }
        let digest: [u8; 32] = Sha256::digest(&out).into();
        out.extend_from_slice(&digest);
        out
    }

    /// Reads a cache's bytes; `None` for anything not exactly that shape.
    pub(super) fn parse(bytes: &[u8]) -> Option<Self> {
        let (body, digest) = bytes.split_at_checked(bytes.len().checked_sub(32)?)?;
        if <[u8; 32]>::from(Sha256::digest(body)) != digest {
            return None;
        }
        let records = body.strip_prefix(HEADER)?;
        if records.len() % RECORD != 0 {
            return None;
        }
        let mut cache = Self::default();
        for record in records.chunks_exact(RECORD) {
            let word = |i: usize| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&record[i * 8..i * 8 + 8]);
                b
            };
            let stamp = FileStamp {
                dev: u64::from_le_bytes(word(0)),
                ino: u64::from_le_bytes(word(1)),
                size: u64::from_le_bytes(word(2)),
                mtime_ns: i64::from_le_bytes(word(3)),
                ctime_ns: i64::from_le_bytes(word(4)),
            };
            let mut id = [0u8; 32];
            id.copy_from_slice(&record[40..]);
            cache.insert(stamp, ObjectId::from_digest(id));
        }
        Some(cache)
    }

    /// The cache at `path`; empty when there is none or it cannot be
    /// trusted: not a regular file (never through a link), not this
    /// process's user's, writable by others, too large or malformed.
    pub(super) fn load(path: &Utf8Path) -> Self {
        Self::try_load(path).unwrap_or_default()
    }

    fn try_load(path: &Utf8Path) -> Option<Self> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(path)
            .ok()?;
        let meta = file.metadata().ok()?;
        let ours = meta.uid() == nix::unistd::geteuid().as_raw() && meta.mode() & 0o022 == 0;
        if !meta.is_file() || !ours || meta.len() > MAX_BYTES {
            return None;
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.take(MAX_BYTES).read_to_end(&mut bytes).ok()?;
        Self::parse(&bytes)
    }

    /// Replaces the cache at `path`: written under `tmp` (a new file in the
    /// same file system), then renamed over it. Not fsynced: a cache lost or
    /// torn by a power cut is ignored and rebuilt.
    pub(super) fn save(&self, path: &Utf8Path, tmp: &Utf8Path) -> io::Result<()> {
        let written = File::options()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(tmp)
            .and_then(|mut f| f.write_all(&self.encode()));
        let placed = written.and_then(|()| {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::rename(tmp, path)
        });
        if placed.is_err() {
            let _ = std::fs::remove_file(tmp);
        }
        placed
    }
}

/// The cache file of the source folder `source` inside `cache_dir`: named
/// by a hash of the folder's path, so each checkout keeps its own.
pub(super) fn cache_file(cache_dir: &Utf8Path, source: &Utf8Path) -> Utf8PathBuf {
    let digest = Sha256::digest(source.as_str().as_bytes());
    let name: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    cache_dir.join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(ino: u64, ctime_ns: i64) -> FileStamp {
        FileStamp {
            dev: 7,
            ino,
            size: 12,
            mtime_ns: 5,
            ctime_ns,
        }
    }

    #[test]
    fn a_cache_reads_back_as_written_and_names_only_exact_stamps() {
        let mut cache = StatCache::default();
        cache.insert(stamp(1, 100), ObjectId::from_digest([1; 32]));
        cache.insert(stamp(2, 100), ObjectId::from_digest([2; 32]));
        let back = StatCache::parse(&cache.encode()).unwrap();
        assert_eq!(back, cache);
        assert_eq!(
            back.get(&stamp(1, 100)),
            Some(ObjectId::from_digest([1; 32]))
        );
        // The same inode changed since: a later change time.
        assert_eq!(back.get(&stamp(1, 101)), None);
        assert_eq!(back.get(&stamp(3, 100)), None);
    }

    #[test]
    fn a_torn_or_altered_cache_is_refused_whole() {
        let mut cache = StatCache::default();
        cache.insert(stamp(1, 100), ObjectId::from_digest([1; 32]));
        let bytes = cache.encode();
        assert_eq!(StatCache::parse(&bytes[..bytes.len() - 1]), None);
        let mut altered = bytes.clone();
        altered[HEADER.len() + 3] ^= 1;
        assert_eq!(StatCache::parse(&altered), None);
        assert_eq!(StatCache::parse(b""), None);
        assert_eq!(StatCache::parse(&[0; 31]), None);
    }

    #[test]
    fn only_a_file_whose_times_are_both_before_the_cutoff_is_settled() {
        let s = FileStamp {
            mtime_ns: 10,
            ..stamp(1, 20)
        };
        assert!(s.settled_before(21));
        assert!(!s.settled_before(20), "changed in the cutoff's instant");
        // An old modification time (restored by a tool) does not hide a
        // recent change.
        assert!(!s.settled_before(15));
    }
}

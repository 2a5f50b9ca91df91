//! [`Objects`]: the state root's content-addressed object folder, and the
//! two ways a snapshot meets it: [`Objects::ingest`] copies a source into a
//! run's folder and names the bytes not stored yet, which
//! [`Objects::store_pending`] stores once the run's jobs have started;
//! [`Objects::materialize`] makes a snapshot's folder again from its
//! [`Manifest`], checking every object against its name.
//!
//! Jobs never run on an object's inode: the folder they run in is always a
//! copy, so a job running as root cannot change what other runs keep. An
//! object is written under a temporary name in `objects/tmp/` and renamed to
//! its hash only once complete, so a crash never leaves a half-written
//! object under a final name. Whoever writes objects holds the folder
//! shared (an `flock`), gc sweeps it holding it exclusively.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::sync::atomic::{AtomicU64, Ordering};

use camino::{Utf8Path, Utf8PathBuf};
use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest, Sha256};

use super::manifest::{Entry, Manifest, ObjectId};
use super::stat_cache::{self, FileStamp, StatCache};

/// The folder inside the objects folder where objects are written before
/// they are complete.
pub const OBJECTS_TMP_DIR: &str = "tmp";

/// The folder inside the objects folder holding each source folder's stat
/// cache (which object each unchanged file is; swept by gc like any file
/// that is no object, and rebuilt by the next snapshot).
pub const OBJECTS_CACHE_DIR: &str = "cache";

/// Files read in one piece up to this size (most source files).
const CHUNK: usize = 1 << 20;

/// Distinguishes temporary object names within one process.
static TMP: AtomicU64 = AtomicU64::new(0);

/// A file of the source as [`Objects::ingest_with_cutoff`] took it.
struct Took {
    entry: Entry,
    how: Taken,
    /// Its stamp, when it may be remembered in the stat cache.
    settled: Option<FileStamp>,
}

/// How a file was taken.
enum Taken {
    /// Copied by the kernel, its object named by the stat cache.
    Cached,
    /// Read and hashed; `new` when its object is not stored yet.
    Hashed { new: bool },
    /// A symbolic link.
    Link,
}

/// What [`Objects::ingest_with_cutoff`] made: the manifest, how its files
/// were taken, and the new contents it has not stored yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ingested {
    /// The manifest of the copy.
    pub manifest: Manifest,
    /// Files read and hashed.
    pub hashed: usize,
    /// Files copied by the kernel, their objects named by the stat cache.
    pub from_cache: usize,
    /// The contents no object holds yet, each once, with a path (relative
    /// to the copy and the source) that had them: for
    /// [`Objects::store_pending`].
    pub pending: Vec<(Utf8PathBuf, ObjectId)>,
}

/// Why a kept snapshot could not be made again.
#[derive(Debug, thiserror::Error)]
pub enum KeptError {
    /// An object the manifest names is not in the store.
    #[error("object {id} of {path} is missing from the object store")]
    Missing {
        /// The object.
        id: ObjectId,
        /// The snapshot path that needs it.
        path: Utf8PathBuf,
    },
    /// An object's bytes no longer hash to its name (something wrote into it).
    #[error("object {id} of {path} was changed after it was stored: its bytes no longer match")]
    Changed {
        /// The object.
        id: ObjectId,
        /// The snapshot path that needs it.
        path: Utf8PathBuf,
    },
    /// A new content could not be stored after the run started: its copy
    /// and the source both had other bytes by then (a job wrote into the
    /// copy, and the source was edited).
    #[error(
        "the bytes of {path} (object {id}) could not be kept: the run's copy and the source both changed before they were stored"
    )]
    Lost {
        /// The object.
        id: ObjectId,
        /// The snapshot path whose bytes were lost.
        path: Utf8PathBuf,
    },
    /// Reading or writing failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

impl From<KeptError> for io::Error {
    fn from(e: KeptError) -> Self {
        io::Error::other(e)
    }
}

/// Where a run's kept snapshot goes: the state root's objects folder and
/// the run's manifest file. Given by the [`RunStore`](crate::engine::RunStore),
/// which alone knows the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptLayout {
    /// The state root's objects folder (shared by all runs).
    pub objects: Utf8PathBuf,
    /// The run's manifest.
    pub manifest: Utf8PathBuf,
    /// The run's snapshot folder. Removed when the run ends, once every
    /// object is stored; it stays when the run ended before that (pikaci
    /// was killed), and an object still missing is then taken from it,
    /// checked against its name. `None`: never looked at.
    pub leftover: Option<Utf8PathBuf>,
}

impl KeptLayout {
    /// Reads and parses the manifest (never through a link, bounded).
    pub fn read_manifest(&self) -> io::Result<Manifest> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(&self.manifest)?;
        if !file.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the snapshot manifest is not a file",
            ));
        }
        let mut bytes = Vec::new();
        file.take(MAX_MANIFEST_BYTES + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                "the snapshot manifest is too large",
            ));
        }
        Manifest::parse(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// The bytes the kept snapshot holds at `rel` (checked against their
    /// hash), `None` when it holds no regular file there.
    pub fn read_file(&self, rel: &Utf8Path) -> io::Result<Option<Vec<u8>>> {
        let Some(Entry::File { id, .. }) = self.read_manifest()?.entries.get(rel).cloned() else {
            return Ok(None);
        };
        let objects = Objects::new(&self.objects);
        match (objects.read(&id, rel), &self.leftover) {
            (Err(KeptError::Missing { .. }), Some(leftover)) => {
                let _hold = objects.hold()?;
                if objects.store_checked(&leftover.join(rel), &id)? {
                    Ok(Some(objects.read(&id, rel)?))
                } else {
                    Err(KeptError::Missing {
                        id,
                        path: rel.to_owned(),
                    }
                    .into())
                }
            }
            (read, _) => Ok(Some(read?)),
        }
    }
}

/// A manifest larger than this is refused (about 2.5 million files).
const MAX_MANIFEST_BYTES: u64 = 256 << 20;

/// The objects folder of a state root.
#[derive(Debug, Clone)]
pub struct Objects {
    dir: Utf8PathBuf,
}

/// A hold on the objects folder; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct ObjectsHold(#[expect(dead_code, reason = "held for its Drop")] Flock<File>);

impl Objects {
    /// The objects folder at `dir` (created when first written).
    pub fn new(dir: impl Into<Utf8PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Where object `id` lives.
    pub fn path(&self, id: &ObjectId) -> Utf8PathBuf {
        self.dir.join(id.relative_path())
    }

    /// Holds the objects folder shared, creating it: gc sweeps no object
    /// while a hold lives, so objects a run is writing (and has not named in
    /// a manifest yet) are never swept under it. Waits while a gc sweeps.
    pub fn hold(&self) -> io::Result<ObjectsHold> {
        std::fs::create_dir_all(&self.dir)?;
        // Opened without following a link: a link planted in its place is
        // refused before anything is written through it.
        let folder = OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_DIRECTORY | nix::libc::O_NOFOLLOW)
            .open(&self.dir)?;
        let hold = Flock::lock(folder, FlockArg::LockShared)
            .map(ObjectsHold)
            .map_err(|(_, e)| io::Error::from(e))?;
        std::fs::create_dir_all(self.tmp_dir())?;
        Ok(hold)
    }

    /// Copies `files` (relative to `source`, leaving out anything under
    /// `exclude`) into `dest`, read-only, hashing each file's bytes as they
    /// are copied, with the cutoff of a snapshot starting now (see
    /// [`ingest_with_cutoff`](Self::ingest_with_cutoff)). Returns the
    /// manifest of what was copied (the bytes in `dest` now, before any job
    /// ran) and the new contents, which [`store_pending`](Self::store_pending)
    /// stores. Needs a [`hold`](Self::hold) until they are stored.
    pub fn ingest(
        &self,
        source: &Utf8Path,
        files: &[Utf8PathBuf],
        dest: &Utf8Path,
        exclude: Option<&Utf8Path>,
    ) -> io::Result<Ingested> {
        self.ingest_with_cutoff(source, files, dest, exclude, stat_cache::cutoff_now())
    }

    /// The copy [`ingest`](Self::ingest) makes, storing no object: the new
    /// contents are listed in [`Ingested::pending`], for
    /// [`store_pending`](Self::store_pending) to store from the copy once
    /// the jobs have started (so a first run starts after one write of the
    /// tree, not two). Remembers the object of each file whose times are
    /// both before `cutoff` (nanoseconds since the epoch; a snapshot
    /// starting now uses two seconds ago), and says how each file was taken.
    ///
    /// A file the source's stat cache names, with the same stamps before and
    /// after its copy and its object stored, is copied by the kernel
    /// (`copy_file_range`) without being read or hashed here; any other file
    /// is read once, hashed, and written to `dest` from the same buffer.
    pub fn ingest_with_cutoff(
        &self,
        source: &Utf8Path,
        files: &[Utf8PathBuf],
        dest: &Utf8Path,
        exclude: Option<&Utf8Path>,
        cutoff: i64,
    ) -> io::Result<Ingested> {
        std::fs::create_dir_all(dest)?;
        std::fs::create_dir_all(self.tmp_dir())?;
        // A file in a merge conflict is listed once per stage: copy it once.
        let files: BTreeSet<&Utf8PathBuf> = files
            .iter()
            .filter(|rel| !exclude.is_some_and(|ex| source.join(rel).starts_with(ex)))
            .collect();
        let files: Vec<&Utf8PathBuf> = files.into_iter().collect();
        make_parents(dest, files.iter().map(|rel| rel.as_path()))?;
        let cache_path = stat_cache::cache_file(&self.dir.join(OBJECTS_CACHE_DIR), source);
        let cache = StatCache::load(&cache_path);
        let taken = in_parallel(COPY_THREADS, &files, |rel| {
            self.ingest_one(&source.join(rel), &dest.join(rel), &cache, cutoff)
                .map(|t| t.map(|t| ((*rel).clone(), t)))
        })?;
        lock_folders(dest)?;
        let mut done = Ingested::default();
        let mut remembered = StatCache::default();
        let mut new = BTreeSet::new();
        for (rel, took) in taken.into_iter().flatten() {
            match (&took.how, &took.entry) {
                (Taken::Cached, _) => done.from_cache += 1,
                (Taken::Hashed { new: is_new }, Entry::File { id, .. }) => {
                    done.hashed += 1;
                    if *is_new && new.insert(*id) {
                        done.pending.push((rel.clone(), *id));
                    }
                }
                _ => {}
            }
            if let (Some(stamp), Entry::File { id, .. }) = (took.settled, &took.entry) {
                remembered.insert(stamp, *id);
            }
            done.manifest.entries.insert(rel, took.entry);
        }
        // Only a hint: a cache that cannot be saved costs the next snapshot
        // its hashing, nothing else.
        if remembered != cache {
            let _ = remembered.save(&cache_path, &self.tmp_path("stat-cache"));
        }
        Ok(done)
    }

    /// The folder of objects being written.
    pub(super) fn tmp_dir(&self) -> Utf8PathBuf {
        self.dir.join(OBJECTS_TMP_DIR)
    }

    /// A new name in `objects/tmp/` for `what`.
    pub(super) fn tmp_path(&self, what: &str) -> Utf8PathBuf {
        self.tmp_dir().join(format!(
            "{what}-{}-{}",
            std::process::id(),
            TMP.fetch_add(1, Ordering::Relaxed)
        ))
    }

    fn ingest_one(
        &self,
        from: &Utf8Path,
        to: &Utf8Path,
        cache: &StatCache,
        cutoff: i64,
    ) -> io::Result<Option<Took>> {
        // Opened without following a link and without waiting on a FIFO:
        // what it is is judged on the open file.
        let input = OpenOptions::new()
            .read(true)
            .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
            .open(from);
        let mut input = match input {
            Ok(f) => f,
            // Deleted since git listed it: nothing to copy.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
                return self.link_one(from, to);
            }
            Err(e) => return Err(e),
        };
        let meta = input.metadata()?;
        if !meta.is_file() {
            return Ok(None);
        }
        let executable = meta.permissions().mode() & 0o111 != 0;
        let stamp = FileStamp::of(&meta);
        let mut output = create_read_only(to, executable)?;
        if let Some(id) = cache.get(&stamp).filter(|id| self.has(id)) {
            let copied = io::copy(&mut input, &mut output)?;
            let after = FileStamp::of(&input.metadata()?);
            if copied == stamp.size() && after == stamp {
                return Ok(Some(Took {
                    entry: Entry::File {
                        id,
                        size: copied,
                        executable,
                    },
                    how: Taken::Cached,
                    settled: Some(stamp),
                }));
            }
            // Changed while it was copied: take it again, reading it.
            output.set_len(0)?;
            output.rewind()?;
            input.rewind()?;
        }
        let (id, size) = hash_and_copy(&mut input, &mut output)?;
        let after = FileStamp::of(&input.metadata()?);
        let settled = (after == stamp && stamp.settled_before(cutoff)).then_some(stamp);
        Ok(Some(Took {
            entry: Entry::File {
                id,
                size,
                executable,
            },
            how: Taken::Hashed {
                new: !self.has(&id),
            },
            settled,
        }))
    }

    fn link_one(&self, from: &Utf8Path, to: &Utf8Path) -> io::Result<Option<Took>> {
        let target = std::fs::read_link(from)?;
        std::os::unix::fs::symlink(&target, to)?;
        let target = Utf8PathBuf::from_path_buf(target)
            .map_err(|_| io::Error::other(format!("{from}: the link's target is not UTF-8")))?;
        Ok(Some(Took {
            entry: Entry::Symlink { target },
            how: Taken::Link,
            settled: None,
        }))
    }

    /// Whether object `id` is stored.
    pub(super) fn has(&self, id: &ObjectId) -> bool {
        std::fs::symlink_metadata(self.path(id)).is_ok()
    }

    /// Renames the complete object at `tmp` to its name, making its
    /// folder when it is the first of it. Another run may have stored the
    /// same bytes meanwhile: the rename replaces its object with an equal one.
    pub(super) fn place(&self, tmp: &Utf8Path, id: &ObjectId) -> io::Result<()> {
        let path = self.path(id);
        match std::fs::rename(tmp, &path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::rename(tmp, &path)
            }
            done => done,
        }
    }

    /// Makes `manifest`'s snapshot in `dest` (read-only), reading each
    /// object once and checking its bytes against its name, so a rerun runs
    /// exactly the bytes its run kept or does not run at all. An object not
    /// stored yet is stored first from `leftover` (the run's own copy, see
    /// [`KeptLayout::leftover`]) when the file there has its bytes; needs a
    /// [`hold`](Self::hold) then.
    pub fn materialize(
        &self,
        manifest: &Manifest,
        dest: &Utf8Path,
        leftover: Option<&Utf8Path>,
    ) -> Result<(), KeptError> {
        let io = |what: String| move |source| KeptError::Io { what, source };
        // Messages name paths inside the snapshot only: they end up in
        // run records, which the forge serves.
        std::fs::create_dir_all(dest).map_err(io("creating the snapshot folder".into()))?;
        make_parents(dest, manifest.entries.keys().map(Utf8PathBuf::as_path))
            .map_err(io("creating the snapshot's folders".into()))?;
        let entries: Vec<_> = manifest.entries.iter().collect();
        in_parallel(COPY_THREADS, &entries, |(rel, entry)| {
            let to = dest.join(rel);
            match entry {
                Entry::Symlink { target } => std::os::unix::fs::symlink(target, &to)
                    .map_err(io(format!("making the link {rel}"))),
                Entry::File { id, executable, .. } => {
                    self.copy_out(id, rel, &to, *executable, leftover)
                }
            }
        })?;
        lock_folders(dest).map_err(io("making the snapshot read-only".into()))
    }

    /// Copies object `id` to `to` in pieces, checking its bytes: the copy
    /// is refused (and removed) when they do not hash to `id`.
    fn copy_out(
        &self,
        id: &ObjectId,
        rel: &Utf8Path,
        to: &Utf8Path,
        executable: bool,
        leftover: Option<&Utf8Path>,
    ) -> Result<(), KeptError> {
        let io = |what: String| move |source| KeptError::Io { what, source };
        let missing = || KeptError::Missing {
            id: *id,
            path: rel.to_owned(),
        };
        let mut input = match File::open(self.path(id)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let Some(leftover) = leftover else {
                    return Err(missing());
                };
                if !self
                    .store_checked(&leftover.join(rel), id)
                    .map_err(io(format!("storing the object of {rel}")))?
                {
                    return Err(missing());
                }
                File::open(self.path(id)).map_err(io(format!("reading object {id} of {rel}")))?
            }
            Err(e) => return Err(io(format!("reading object {id} of {rel}"))(e)),
        };
        let mut out = create_read_only(to, executable).map_err(io(format!("creating {rel}")))?;
        let hasher = with_buffer(|buf| {
            let mut hasher = Sha256::new();
            loop {
                let n = match input.read(buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(io(format!("reading object {id} of {rel}"))(e)),
                };
                hasher.update(&buf[..n]);
                out.write_all(&buf[..n])
                    .map_err(io(format!("writing {rel}")))?;
            }
            Ok(hasher)
        })?;
        if ObjectId::from_digest(hasher.finalize().into()) != *id {
            drop(out);
            let _ = std::fs::remove_file(to);
            return Err(KeptError::Changed {
                id: *id,
                path: rel.to_owned(),
            });
        }
        Ok(())
    }

    /// Object `id`'s bytes (for snapshot path `rel`), checked against its name.
    pub fn read(&self, id: &ObjectId, rel: &Utf8Path) -> Result<Vec<u8>, KeptError> {
        let bytes = match std::fs::read(self.path(id)) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(KeptError::Missing {
                    id: *id,
                    path: rel.to_owned(),
                });
            }
            Err(source) => {
                return Err(KeptError::Io {
                    what: format!("reading object {id} of {rel}"),
                    source,
                });
            }
        };
        if ObjectId::from_digest(Sha256::digest(&bytes).into()) != *id {
            return Err(KeptError::Changed {
                id: *id,
                path: rel.to_owned(),
            });
        }
        Ok(bytes)
    }
}

/// Reads `input` once, hashing it and writing it to `output`. Returns the
/// bytes' id and their size.
pub(super) fn hash_and_copy(input: &mut File, output: &mut File) -> io::Result<(ObjectId, u64)> {
    with_buffer(|buf| {
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        loop {
            let n = match input.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            output.write_all(&buf[..n])?;
            size += n as u64;
        }
        Ok((ObjectId::from_digest(hasher.finalize().into()), size))
    })
}

/// Runs `f` with this thread's copy buffer ([`CHUNK`] bytes), made once
/// per thread: a fresh buffer per file would zero a MiB for every file, a
/// small source file included.
fn with_buffer<R>(f: impl FnOnce(&mut [u8]) -> R) -> R {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with_borrow_mut(|buf| {
        if buf.len() < CHUNK {
            buf.resize(CHUNK, 0);
        }
        f(buf)
    })
}

/// Creates, under `dest`, the folder of each of `paths` (each folder once).
fn make_parents<'a>(dest: &Utf8Path, paths: impl Iterator<Item = &'a Utf8Path>) -> io::Result<()> {
    let parents: BTreeSet<&Utf8Path> = paths
        .filter_map(Utf8Path::parent)
        .filter(|p| !p.as_str().is_empty())
        .collect();
    for parent in parents {
        std::fs::create_dir_all(dest.join(parent))?;
    }
    Ok(())
}

/// Creates a new file at `path`, its mode read-only from the start (0444,
/// 0555 when executable); the descriptor returned still writes.
pub(super) fn create_read_only(path: &Utf8Path, executable: bool) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if executable { 0o555 } else { 0o444 })
        .open(path)
}

/// Makes every folder under `dir`, and `dir`, 0555 (files are made
/// read-only when created). Links are never followed.
fn lock_folders(dir: &Utf8Path) -> io::Result<()> {
    fn walk(dir: &std::path::Path) -> io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                walk(&entry.path())?;
            }
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555))
    }
    walk(dir.as_std_path())
}

/// Threads copying a tree in or out: more than the cores, because a cold
/// copy waits on the disk more than on the CPU, and the disk serves several
/// reads at once far better than one after the other (on a 2-core machine
/// the snapshot bench's cold start fell steadily from 2 threads to 4 to 8).
pub(super) const COPY_THREADS: usize = 8;

/// Runs `work` on every item on `threads` threads, returning the results
/// in order; the first error wins and stops them all. The threads take the
/// items in turn from one counter, so they read the source in its order,
/// near each other on the disk, rather than each its own part.
pub(super) fn in_parallel<T: Sync, R: Send, E: Send>(
    threads: usize,
    items: &[T],
    work: impl Fn(&T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E> {
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let worker = || {
        let mut done = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            match work(item) {
                Ok(r) => done.push((i, r)),
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            }
        }
        Ok(done)
    };
    let parts: Vec<Result<Vec<(usize, R)>, E>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.max(1)).map(|_| scope.spawn(worker)).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a copy thread does not panic"))
            .collect()
    });
    let mut out = Vec::with_capacity(items.len());
    for part in parts {
        out.extend(part?);
    }
    out.sort_unstable_by_key(|(i, _)| *i);
    Ok(out.into_iter().map(|(_, r)| r).collect())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn tree(dir: &Utf8Path, files: &[(&str, &str)]) -> Vec<Utf8PathBuf> {
        for (rel, body) in files {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
        files
            .iter()
            .map(|(rel, _)| Utf8PathBuf::from(*rel))
            .collect()
    }

    fn temp() -> (tempfile::TempDir, Utf8PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::try_from(tmp.path().to_owned()).unwrap();
        (tmp, root)
    }

    impl Objects {
        /// A copy of `files` into `dest` with every new content stored.
        fn ingest_stored(
            &self,
            src: &Utf8Path,
            files: &[Utf8PathBuf],
            dest: &Utf8Path,
        ) -> Manifest {
            let done = self.ingest(src, files, dest, None).unwrap();
            self.store_pending(&done.pending, &[dest, src]).unwrap();
            done.manifest
        }
    }

    fn chmod_all_writable(dir: &Utf8Path) {
        let _ = std::process::Command::new("chmod")
            .args(["-R", "u+w"])
            .arg(dir)
            .status();
    }

    #[test]
    fn a_second_snapshot_stores_only_what_changed_and_both_come_back_byte_for_byte() {
        let (_tmp, root) = temp();
        let src = root.join("src");
        let mut files = tree(
            &src,
            &[("a.txt", "alpha"), ("d/b.txt", "beta"), ("same", "alpha")],
        );
        // Listed once per stage while in a merge conflict.
        files.push("d/b.txt".into());
        std::os::unix::fs::symlink("a.txt", src.join("link")).unwrap();
        files.push("link".into());
        let objects = Objects::new(root.join("objects"));
        let _hold = objects.hold().unwrap();
        let first = objects.ingest_stored(&src, &files, &root.join("run1"));
        std::fs::write(src.join("d/b.txt"), "beta, changed").unwrap();
        let second = objects.ingest_stored(&src, &files, &root.join("run2"));
        // a.txt and `same` share one object; b.txt has two versions.
        let stored = |m: &Manifest| {
            m.objects()
                .map(|(id, _)| id)
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert_eq!(stored(&first).len(), 2);
        assert_eq!(stored(&first).union(&stored(&second)).count(), 3);
        let mode = std::fs::metadata(root.join("run1/a.txt")).unwrap().mode();
        assert_eq!(mode & 0o777, 0o444);

        for (manifest, b) in [(&first, "beta"), (&second, "beta, changed")] {
            let out = root.join(format!("again-{}", b.len()));
            objects.materialize(manifest, &out, None).unwrap();
            assert_eq!(std::fs::read_to_string(out.join("d/b.txt")).unwrap(), b);
            assert_eq!(
                std::fs::read_link(out.join("link")).unwrap().to_str(),
                Some("a.txt")
            );
        }
        // The copies jobs run in are not the objects: no inode is shared.
        let ino = |p: &Utf8Path| std::fs::metadata(p).unwrap().ino();
        let (id, _) = first.objects().next().unwrap();
        for run in ["run1", "run2"] {
            for f in ["a.txt", "same", "d/b.txt"] {
                assert_ne!(ino(&root.join(run).join(f)), ino(&objects.path(&id)));
            }
        }
        for d in ["run1", "run2", "again-4", "again-13"] {
            chmod_all_writable(&root.join(d));
        }
    }

    /// A cutoff after every file's times: as if the snapshot ran long
    /// after the files were written.
    const LATER: i64 = i64::MAX;

    fn ingest(
        objects: &Objects,
        src: &Utf8Path,
        files: &[Utf8PathBuf],
        out: &Utf8Path,
        cutoff: i64,
    ) -> Ingested {
        let done = objects
            .ingest_with_cutoff(src, files, out, None, cutoff)
            .unwrap();
        objects.store_pending(&done.pending, &[out, src]).unwrap();
        chmod_all_writable(out);
        done
    }

    fn ctime_ns(path: &Utf8Path) -> i64 {
        let m = std::fs::metadata(path).unwrap();
        m.ctime() * 1_000_000_000 + m.ctime_nsec()
    }

    #[test]
    fn an_unchanged_file_comes_from_the_cache_and_one_changed_with_its_size_and_mtime_kept_is_hashed_again()
     {
        let (_tmp, root) = temp();
        let src = root.join("src");
        let files = tree(&src, &[("a.txt", "alpha"), ("b.txt", "beta")]);
        let objects = Objects::new(root.join("objects"));
        let first = ingest(&objects, &src, &files, &root.join("r1"), LATER);
        assert_eq!(
            (first.hashed, first.from_cache, first.pending.len()),
            (2, 0, 2)
        );
        let second = ingest(&objects, &src, &files, &root.join("r2"), LATER);
        assert_eq!(
            (second.hashed, second.from_cache, second.pending.len()),
            (0, 2, 0)
        );
        assert_eq!(second.manifest, first.manifest);
        assert_eq!(
            std::fs::read_to_string(root.join("r2/a.txt")).unwrap(),
            "alpha"
        );

        // The same size, the old modification time put back: only the
        // change time tells. Rewritten until the kernel's clock has moved
        // past the remembered change time (within one tick it may not).
        let a = src.join("a.txt");
        let (mtime, ctime) = (
            std::fs::metadata(&a).unwrap().modified().unwrap(),
            ctime_ns(&a),
        );
        while ctime_ns(&a) == ctime {
            std::fs::write(&a, "ALPHA").unwrap();
        }
        File::options()
            .write(true)
            .open(&a)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let third = ingest(&objects, &src, &files, &root.join("r3"), LATER);
        assert_eq!(
            (third.hashed, third.from_cache, third.pending.len()),
            (1, 1, 1)
        );
        assert_eq!(
            std::fs::read_to_string(root.join("r3/a.txt")).unwrap(),
            "ALPHA"
        );
        let again = root.join("again");
        objects.materialize(&third.manifest, &again, None).unwrap();
        assert_eq!(
            std::fs::read_to_string(again.join("a.txt")).unwrap(),
            "ALPHA"
        );
        chmod_all_writable(&again);
    }

    #[test]
    fn a_file_changed_in_the_last_seconds_is_never_remembered() {
        let (_tmp, root) = temp();
        let src = root.join("src");
        let files = tree(&src, &[("fresh", "just written")]);
        let objects = Objects::new(root.join("objects"));
        // Written a moment ago: within the settle time of a snapshot now.
        for run in ["r1", "r2"] {
            let done = ingest(
                &objects,
                &src,
                &files,
                &root.join(run),
                stat_cache::cutoff_now(),
            );
            assert_eq!((done.hashed, done.from_cache), (1, 0), "{run}");
        }
        // Once it has settled it is remembered.
        ingest(&objects, &src, &files, &root.join("r3"), LATER);
        let done = ingest(&objects, &src, &files, &root.join("r4"), LATER);
        assert_eq!((done.hashed, done.from_cache), (0, 1));
    }

    #[test]
    fn a_cached_file_whose_object_is_gone_or_a_garbled_cache_is_read_and_hashed_again() {
        let (_tmp, root) = temp();
        let src = root.join("src");
        let files = tree(&src, &[("a", "the bytes"), ("b", "other bytes")]);
        let objects = Objects::new(root.join("objects"));
        let first = ingest(&objects, &src, &files, &root.join("r1"), LATER);
        let (id, _) = first.manifest.objects().next().unwrap();
        std::fs::remove_file(objects.path(&id)).unwrap();
        let second = ingest(&objects, &src, &files, &root.join("r2"), LATER);
        assert_eq!(
            (second.hashed, second.from_cache, second.pending.len()),
            (1, 1, 1)
        );
        assert_eq!(objects.read(&id, "a".into()).unwrap(), b"the bytes");

        let cache = stat_cache::cache_file(&root.join("objects").join(OBJECTS_CACHE_DIR), &src);
        let mut bytes = std::fs::read(&cache).unwrap();
        let last = bytes.len() - 40;
        bytes[last] ^= 0xff;
        std::fs::write(&cache, &bytes).unwrap();
        let third = ingest(&objects, &src, &files, &root.join("r3"), LATER);
        assert_eq!((third.hashed, third.from_cache), (2, 0));
        assert_eq!(third.manifest, first.manifest);
    }

    #[test]
    fn a_link_in_place_of_the_objects_folder_is_refused() {
        let (_tmp, root) = temp();
        std::fs::create_dir_all(root.join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(root.join("elsewhere"), root.join("objects")).unwrap();
        let err = Objects::new(root.join("objects")).hold().unwrap_err();
        // O_NOFOLLOW with O_DIRECTORY says ENOTDIR for a link (ELOOP alone).
        assert!(
            matches!(
                err.raw_os_error(),
                Some(nix::libc::ENOTDIR | nix::libc::ELOOP)
            ),
            "{err}"
        );
        assert!(
            !root.join("elsewhere/tmp").exists(),
            "nothing written through it"
        );
    }

    #[test]
    fn an_object_that_was_written_into_is_refused_not_copied() {
        let (_tmp, root) = temp();
        let src = root.join("src");
        let files = tree(&src, &[("a", "the original")]);
        let objects = Objects::new(root.join("objects"));
        let manifest = objects.ingest_stored(&src, &files, &root.join("run"));
        let (id, _) = manifest.objects().next().unwrap();
        let path = objects.path(&id);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(&path, "changed!").unwrap();
        let err = objects
            .materialize(&manifest, &root.join("again"), None)
            .unwrap_err();
        assert!(matches!(err, KeptError::Changed { .. }), "{err}");
        std::fs::remove_file(&path).unwrap();
        let err = objects
            .materialize(&manifest, &root.join("again2"), None)
            .unwrap_err();
        assert!(matches!(err, KeptError::Missing { .. }), "{err}");
        for d in ["run", "again", "again2"] {
            chmod_all_writable(&root.join(d));
        }
    }
}

//! [`MemFs`]: an in-memory file system with fault injection.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::process::LogSink;

use super::hold::MemHolds;
use super::{EntryKind, FolderHold, Fs, ReadAt};

type Content = Arc<RwLock<Vec<u8>>>;

#[derive(Debug, Clone)]
enum Node {
    Dir,
    File(Content),
    Symlink,
}

#[derive(Debug, Default)]
struct State {
    nodes: BTreeMap<Utf8PathBuf, Node>,
    /// Total bytes all files may hold; `None` is unlimited.
    capacity: Option<u64>,
    /// When set, every mutating call fails as a read-only file system would.
    read_only: bool,
    /// Modification times set by [`MemFs::set_modified`]; other entries
    /// have none (`Unsupported`).
    modified: BTreeMap<Utf8PathBuf, std::time::SystemTime>,
}

impl State {
    fn used(&self) -> u64 {
        self.nodes
            .values()
            .map(|n| match n {
                Node::File(c) => c.read().map_or(0, |c| c.len() as u64),
                _ => 0,
            })
            .sum()
    }

    fn check_writable(&self) -> io::Result<()> {
        if self.read_only {
            return Err(io::Error::new(
                io::ErrorKind::ReadOnlyFilesystem,
                "read-only file system",
            ));
        }
        Ok(())
    }

    fn check_room(&self, extra: u64) -> io::Result<()> {
        match self.capacity {
            Some(cap) if self.used() + extra > cap => Err(full()),
            _ => Ok(()),
        }
    }

    fn mkdirs(&mut self, path: &Utf8Path) -> io::Result<()> {
        for anc in path.ancestors() {
            if anc.as_str().is_empty() {
                continue;
            }
            match self.nodes.get(anc) {
                Some(Node::Dir) => break,
                Some(_) => return Err(io::Error::other(format!("{anc} is not a folder"))),
                None => {
                    self.nodes.insert(anc.to_owned(), Node::Dir);
                }
            }
        }
        Ok(())
    }

    /// Refuses a path with a link among its folders, as `DiskFs` does below
    /// its root: a link is never followed, wherever it is.
    fn no_link_on_the_way(&self, path: &Utf8Path) -> io::Result<()> {
        match path
            .ancestors()
            .skip(1)
            .find(|a| matches!(self.nodes.get(*a), Some(Node::Symlink)))
        {
            Some(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{path} is reached through a symbolic link, which is never followed"),
            )),
            None => Ok(()),
        }
    }

    fn file(&self, path: &Utf8Path) -> io::Result<Content> {
        self.no_link_on_the_way(path)?;
        match self.nodes.get(path) {
            Some(Node::File(c)) => Ok(c.clone()),
            Some(Node::Symlink) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{path} is a symbolic link, which is never followed"),
            )),
            Some(Node::Dir) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{path} is not a regular file"),
            )),
            None => Err(not_found(path)),
        }
    }
}

fn full() -> io::Error {
    io::Error::new(io::ErrorKind::StorageFull, "no space left on device")
}

fn not_found(path: &Utf8Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{path} not found"))
}

/// An in-memory file system. Cloning shares the same files.
#[derive(Debug, Clone, Default)]
pub struct MemFs {
    state: Arc<Mutex<State>>,
    holds: MemHolds,
}

impl MemFs {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the map half-updated
        // (each operation is a single insert/remove), so recover the guard.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets when the entry at `path` was last modified, as [`Fs::modified`]
    /// reports it (entries have no time until one is set).
    pub fn set_modified(&self, path: &Utf8Path, time: std::time::SystemTime) {
        self.lock().modified.insert(path.to_owned(), time);
    }

    /// Limits the total bytes of all files; writes beyond fail with "no space left".
    pub fn set_capacity(&self, bytes: Option<u64>) {
        self.lock().capacity = bytes;
    }

    /// Makes every mutating call fail as on a read-only file system.
    pub fn set_read_only(&self, read_only: bool) {
        self.lock().read_only = read_only;
    }

    /// Plants a symbolic link (for tests of link refusal).
    /// Where it points does not matter: the store must refuse it either way.
    pub fn symlink(&self, link: &Utf8Path) -> io::Result<()> {
        let mut st = self.lock();
        if let Some(parent) = link.parent() {
            st.mkdirs(parent)?;
        }
        st.nodes.insert(link.to_owned(), Node::Symlink);
        Ok(())
    }
}

struct MemLog {
    fs: MemFs,
    content: Content,
}

impl Write for MemLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        {
            let st = self.fs.lock();
            st.check_writable()?;
            st.check_room(buf.len() as u64)?;
        }
        self.content
            .write()
            .map_err(|_| io::Error::other("log buffer lock poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LogSink for MemLog {}

/// A file opened for reading: it shares the content, so it sees appends and
/// keeps its content when the path is replaced, as an open file does on disk.
struct MemFile(Content);

impl ReadAt for MemFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let c = self
            .0
            .read()
            .map_err(|_| io::Error::other("lock poisoned"))?;
        let start = offset.min(c.len() as u64) as usize;
        let n = buf.len().min(c.len() - start);
        buf[..n].copy_from_slice(&c[start..start + n]);
        Ok(n)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self
            .0
            .read()
            .map_err(|_| io::Error::other("lock poisoned"))?
            .len() as u64)
    }
}

impl Fs for MemFs {
    fn write_atomic(&self, path: &Utf8Path, bytes: &[u8]) -> io::Result<()> {
        let mut st = self.lock();
        st.check_writable()?;
        let old = match st.nodes.get(path) {
            Some(Node::File(c)) => c.read().map_or(0, |c| c.len() as u64),
            _ => 0,
        };
        st.check_room((bytes.len() as u64).saturating_sub(old))?;
        if let Some(parent) = path.parent() {
            st.mkdirs(parent)?;
        }
        // A fresh buffer swapped in under the lock: readers see old or new.
        st.nodes.insert(
            path.to_owned(),
            Node::File(Arc::new(RwLock::new(bytes.to_vec()))),
        );
        Ok(())
    }

    fn read(&self, path: &Utf8Path, max: u64) -> io::Result<Vec<u8>> {
        let content = self.lock().file(path)?;
        let bytes = content
            .read()
            .map_err(|_| io::Error::other("lock poisoned"))?;
        if bytes.len() as u64 > max {
            return Err(super::too_large(bytes.len() as u64, max));
        }
        Ok(bytes.clone())
    }

    fn open_read(&self, path: &Utf8Path) -> io::Result<Box<dyn ReadAt>> {
        Ok(Box::new(MemFile(self.lock().file(path)?)))
    }

    fn size(&self, path: &Utf8Path) -> io::Result<Option<u64>> {
        match self.lock().file(path) {
            Ok(c) => Ok(Some(c.read().map_or(0, |c| c.len() as u64))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn kind(&self, path: &Utf8Path) -> io::Result<Option<EntryKind>> {
        let st = self.lock();
        st.no_link_on_the_way(path)?;
        Ok(st.nodes.get(path).map(|n| match n {
            Node::Dir => EntryKind::Dir,
            Node::File(_) => EntryKind::File,
            Node::Symlink => EntryKind::Symlink,
        }))
    }

    fn open_append(&self, path: &Utf8Path) -> io::Result<Box<dyn LogSink>> {
        let mut st = self.lock();
        st.check_writable()?;
        let content = match st.nodes.get(path) {
            Some(Node::File(c)) => c.clone(),
            Some(_) => return Err(st.file(path).err().unwrap_or_else(|| not_found(path))),
            None => {
                if let Some(parent) = path.parent() {
                    st.mkdirs(parent)?;
                }
                let c: Content = Arc::default();
                st.nodes.insert(path.to_owned(), Node::File(c.clone()));
                c
            }
        };
        Ok(Box::new(MemLog {
            fs: self.clone(),
            content,
        }))
    }

    fn list_dir(&self, path: &Utf8Path) -> io::Result<Vec<String>> {
        let st = self.lock();
        st.no_link_on_the_way(path)?;
        match st.nodes.get(path) {
            Some(Node::Dir) => {}
            Some(_) => return Err(io::Error::other(format!("{path} is not a folder"))),
            None => return Err(not_found(path)),
        }
        Ok(st
            .nodes
            .range(path.to_owned()..)
            .skip(1)
            .take_while(|(p, _)| p.starts_with(path))
            .filter(|(p, _)| p.parent() == Some(path))
            .filter_map(|(p, _)| p.file_name().map(str::to_owned))
            .collect())
    }

    fn create_dir_all(&self, path: &Utf8Path) -> io::Result<()> {
        let mut st = self.lock();
        st.check_writable()?;
        st.mkdirs(path)
    }

    fn create_dir(&self, path: &Utf8Path) -> io::Result<()> {
        let mut st = self.lock();
        st.check_writable()?;
        if st.nodes.contains_key(path) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{path} exists"),
            ));
        }
        match path.parent().filter(|p| !p.as_str().is_empty()) {
            Some(parent) if !matches!(st.nodes.get(parent), Some(Node::Dir)) => {
                Err(not_found(parent))
            }
            _ => {
                st.nodes.insert(path.to_owned(), Node::Dir);
                Ok(())
            }
        }
    }

    fn rename(&self, from: &Utf8Path, to: &Utf8Path) -> io::Result<()> {
        let mut st = self.lock();
        st.check_writable()?;
        if !st.nodes.contains_key(from) {
            return Err(not_found(from));
        }
        if let Some(parent) = to.parent() {
            st.mkdirs(parent)?;
        }
        let moved: Vec<Utf8PathBuf> = st
            .nodes
            .range(from.to_owned()..)
            .take_while(|(p, _)| p.starts_with(from))
            .map(|(p, _)| p.clone())
            .collect();
        for p in moved {
            if let Some(node) = st.nodes.remove(&p) {
                let rel = p.strip_prefix(from).unwrap_or(Utf8Path::new(""));
                let dest = if rel.as_str().is_empty() {
                    to.to_owned()
                } else {
                    to.join(rel)
                };
                st.nodes.insert(dest, node);
            }
        }
        Ok(())
    }

    fn remove_dir_all(&self, path: &Utf8Path) -> io::Result<()> {
        let mut st = self.lock();
        st.check_writable()?;
        if !st.nodes.contains_key(path) {
            return Err(not_found(path));
        }
        let doomed: Vec<Utf8PathBuf> = st
            .nodes
            .range(path.to_owned()..)
            .take_while(|(p, _)| p.starts_with(path))
            .map(|(p, _)| p.clone())
            .collect();
        for p in doomed {
            st.nodes.remove(&p);
        }
        Ok(())
    }

    fn hold_shared(&self, path: &Utf8Path) -> io::Result<FolderHold> {
        self.folder(path)?;
        self.holds.shared(path)
    }

    fn try_hold_exclusive(&self, path: &Utf8Path) -> io::Result<FolderHold> {
        self.folder(path)?;
        self.holds.exclusive(path)
    }

    fn held_exclusively(&self, path: &Utf8Path) -> io::Result<bool> {
        self.folder(path)?;
        Ok(self.holds.is_exclusive(path))
    }

    fn modified(&self, path: &Utf8Path) -> io::Result<Option<std::time::SystemTime>> {
        let st = self.lock();
        if !st.nodes.contains_key(path) {
            return Ok(None);
        }
        st.modified.get(path).copied().map(Some).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{path} has no modification time set"),
            )
        })
    }
}

impl MemFs {
    /// `Ok` when `path` is a folder.
    fn folder(&self, path: &Utf8Path) -> io::Result<()> {
        match self.lock().nodes.get(path) {
            Some(Node::Dir) => Ok(()),
            Some(_) => Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{path} is not a folder"),
            )),
            None => Err(not_found(path)),
        }
    }
}

//! [`DiskWatch`]: what changed on disk since it was last asked, for the price
//! of one non-blocking read of an inotify descriptor: the database's files
//! (so a token may have been revoked) and the folders of runs whose record is
//! cached (so a record may have been replaced).
//!
//! The kernel queues an event during the write or rename that makes the
//! change, before that call returns: once SQLite has committed (here, or in
//! `pika-news token revoke` in another process) or pikaci has renamed a new
//! `run.json` into place, the next [`DiskWatch::drain`] reports it. Anything
//! unexpected (the queue overflowed, a read failed) is reported as "maybe
//! everything changed". Where inotify cannot be had, or cannot be trusted
//! (a network or FUSE file system, where another machine's writes raise no
//! event here), there is no watch, and the caches ask the disk itself
//! (SQLite's `PRAGMA data_version`, an `lstat` of `run.json`).

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;

use camino::Utf8Path;
use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use pikaci_core::RunId;
use pikaci_store::RUN_JSON;

/// At most this many run folders are watched at once.
pub(crate) const MAX_RUN_WATCHES: usize = 4096;

/// What one drain saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Drained {
    /// One of the database's files changed.
    pub(crate) db: bool,
    /// These runs' `run.json` (or their folder) changed.
    pub(crate) runs: Vec<RunId>,
    /// Events were lost or the watch broke: assume everything changed.
    pub(crate) everything: bool,
}

/// The inotify watch of the database's folder and of cached runs' folders.
pub(crate) struct DiskWatch {
    inotify: Inotify,
    db_wd: WatchDescriptor,
    /// The database's file name: its files are this name and this name
    /// followed by `-wal`, `-shm` or `-journal`.
    db_name: Vec<u8>,
    runs: HashMap<WatchDescriptor, RunId>,
    by_run: HashMap<RunId, WatchDescriptor>,
    working: bool,
}

impl std::fmt::Debug for DiskWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskWatch")
            .field("runs", &self.runs.len())
            .field("working", &self.working)
            .finish_non_exhaustive()
    }
}

const RUN_EVENTS: AddWatchFlags = AddWatchFlags::IN_MODIFY
    .union(AddWatchFlags::IN_CREATE)
    .union(AddWatchFlags::IN_DELETE)
    .union(AddWatchFlags::IN_MOVED_FROM)
    .union(AddWatchFlags::IN_MOVED_TO)
    .union(AddWatchFlags::IN_ATTRIB)
    .union(AddWatchFlags::IN_DELETE_SELF)
    .union(AddWatchFlags::IN_MOVE_SELF);

/// Whether inotify sees every change made to files under `path`: not on
/// network file systems (NFS, SMB/CIFS, Ceph, 9p, AFS) or FUSE, where
/// another machine (or a user-space server) can change files silently.
pub(crate) fn local_file_system(path: &Utf8Path) -> bool {
    const REMOTE: [u64; 8] = [
        0x6969,      // NFS
        0x517B,      // SMB
        0xFF53_4D42, // CIFS
        0xFE53_4D42, // SMB2
        0x6573_5546, // FUSE
        0x00C3_6400, // Ceph
        0x0102_1997, // 9p
        0x5346_414F, // AFS
    ];
    match nix::sys::statfs::statfs(path.as_std_path()) {
        Ok(fs) => !REMOTE.contains(&(fs.filesystem_type().0 as u64)),
        Err(_) => false,
    }
}

impl DiskWatch {
    /// Watches the folder of the database at `db`, and will watch run
    /// folders under `state_root`; `None` when inotify is not available (no
    /// more instances) or either is not on a local file system.
    pub(crate) fn new(db: &Utf8Path, state_root: &Utf8Path) -> Option<Self> {
        let folder = match db.parent() {
            Some(p) if !p.as_str().is_empty() => p,
            _ => Utf8Path::new("."),
        };
        let root_ok = state_root
            .ancestors()
            .find(|p| p.exists())
            .is_some_and(local_file_system);
        if !local_file_system(folder) || !root_ok {
            return None;
        }
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok()?;
        let db_wd = inotify.add_watch(folder.as_std_path(), RUN_EVENTS).ok()?;
        Some(Self {
            inotify,
            db_wd,
            db_name: db.file_name()?.as_bytes().to_vec(),
            runs: HashMap::new(),
            by_run: HashMap::new(),
            working: true,
        })
    }

    /// Whether changes are still reported; once not, the caches must ask
    /// the disk.
    pub(crate) fn working(&self) -> bool {
        self.working
    }

    /// Whether `run`'s folder is watched now.
    #[cfg(test)]
    pub(crate) fn watches(&self, run: &RunId) -> bool {
        self.working && self.by_run.contains_key(run)
    }

    /// Watches the folder of `run`, before its record is read (so nothing
    /// written after the read goes unseen). `false` when it cannot be.
    pub(crate) fn watch_run(&mut self, run: &RunId, folder: &Utf8Path) -> bool {
        if !self.working {
            return false;
        }
        if self.by_run.contains_key(run) {
            return true;
        }
        if self.by_run.len() >= MAX_RUN_WATCHES {
            return false;
        }
        match self.inotify.add_watch(folder.as_std_path(), RUN_EVENTS) {
            Ok(wd) => {
                self.runs.insert(wd, run.clone());
                self.by_run.insert(run.clone(), wd);
                true
            }
            Err(_) => false,
        }
    }

    /// Stops watching every run folder (the records were dropped).
    pub(crate) fn unwatch_runs(&mut self) {
        for (_, wd) in self.by_run.drain() {
            let _ = self.inotify.rm_watch(wd);
        }
        self.runs.clear();
    }

    /// What changed since the last call. Reads (and so forgets) what the
    /// kernel queued.
    pub(crate) fn drain(&mut self) -> Drained {
        let mut seen = Drained::default();
        loop {
            match self.inotify.read_events() {
                Ok(events) => {
                    for e in events {
                        self.note(&e, &mut seen);
                    }
                }
                Err(Errno::EAGAIN) => break,
                Err(Errno::EINTR) => {}
                Err(_) => {
                    self.working = false;
                    seen.everything = true;
                    break;
                }
            }
        }
        if seen.everything {
            seen.db = true;
        }
        seen
    }

    fn note(&mut self, e: &nix::sys::inotify::InotifyEvent, seen: &mut Drained) {
        let name = e.name.as_deref().map(OsStrExt::as_bytes);
        if e.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
            seen.everything = true;
            return;
        }
        let gone = e.mask.intersects(
            AddWatchFlags::IN_IGNORED | AddWatchFlags::IN_DELETE_SELF | AddWatchFlags::IN_MOVE_SELF,
        );
        if e.wd == self.db_wd {
            if gone {
                // The database's folder went away: nothing to trust any more.
                self.working = false;
                seen.everything = true;
            } else if name.is_none_or(|n| n.starts_with(&self.db_name)) {
                seen.db = true;
            }
            return;
        }
        let Some(run) = self.runs.get(&e.wd).cloned() else {
            return;
        };
        if gone || name.is_none_or(|n| n == RUN_JSON.as_bytes()) {
            seen.runs.push(run.clone());
        }
        if gone {
            // Moved or deleted: whatever the path holds later is another
            // folder, watched afresh if its record is read again.
            self.runs.remove(&e.wd);
            self.by_run.remove(&run);
            let _ = self.inotify.rm_watch(e.wd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_writes_and_replaced_records_are_seen_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = camino::Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();
        let db = root.join("news.sqlite");
        std::fs::write(&db, "x").unwrap();
        let mut w = DiskWatch::new(&db, &root).expect("inotify works here");
        assert_eq!(w.drain(), Drained::default());
        std::fs::write(root.join("news.sqlite-wal"), "frame").unwrap();
        assert!(w.drain().db);
        assert_eq!(w.drain(), Drained::default(), "what was seen is forgotten");
        std::fs::write(root.join("other.txt"), "x").unwrap();
        assert_eq!(w.drain(), Drained::default());

        let run: RunId = "20260324T161238Z-1a2b3c4d".parse().unwrap();
        let folder = root.join("runs").join(run.as_str());
        std::fs::create_dir_all(folder.join("jobs/build")).unwrap();
        assert!(w.watch_run(&run, &folder));
        assert!(w.watches(&run));
        // Logs and temporary files are not the record.
        std::fs::write(folder.join("jobs/build/guest.log"), "x").unwrap();
        std::fs::write(folder.join(".run.json.tmp-1"), "{}").unwrap();
        assert_eq!(w.drain(), Drained::default());
        // A record renamed into place is.
        std::fs::rename(folder.join(".run.json.tmp-1"), folder.join("run.json")).unwrap();
        assert_eq!(w.drain().runs, std::slice::from_ref(&run));
        // The run folder moved away (gc): seen, and no longer watched.
        std::fs::rename(&folder, root.join("gone")).unwrap();
        assert_eq!(w.drain().runs, std::slice::from_ref(&run));
        std::fs::remove_dir_all(root.join("gone")).unwrap();
        w.drain();
        assert!(!w.watches(&run));
        w.unwatch_runs();
        std::fs::remove_dir_all(&root).unwrap();
        let last = w.drain();
        assert!(last.everything && last.db);
        assert!(!w.working());
    }
}

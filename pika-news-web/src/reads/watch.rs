//! [`DiskWatch`]: what changed on disk since it was last asked, for the price
//! of one non-blocking read of an inotify descriptor: the database's files
//! (so a token may have been revoked), the folders of runs whose record is
//! cached (so a record may have been replaced) and the folders of jobs
//! whose log tail is cached (so a log may have grown).
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
use pikaci_core::{JobId, RunId};
use pikaci_store::RUN_JSON;

/// At most this many run and job folders are watched at once.
pub(crate) const MAX_WATCHES: usize = 4096 + 256;

/// A folder watched for a cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Folder {
    /// A run's folder, for its `run.json`.
    Run(RunId),
    /// A job's folder, for its logs.
    Job(RunId, JobId),
}

/// What one drain saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Drained {
    /// One of the database's files changed.
    pub(crate) db: bool,
    /// These runs' `run.json` (or their folder) changed.
    pub(crate) runs: Vec<RunId>,
    /// These jobs' logs (or their folder) changed.
    pub(crate) jobs: Vec<(RunId, JobId)>,
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
    folders: HashMap<WatchDescriptor, Folder>,
    by_folder: HashMap<Folder, WatchDescriptor>,
    working: bool,
}

impl std::fmt::Debug for DiskWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskWatch")
            .field("folders", &self.folders.len())
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
            folders: HashMap::new(),
            by_folder: HashMap::new(),
            working: true,
        })
    }

    /// Whether changes are still reported; once not, the caches must ask
    /// the disk.
    pub(crate) fn working(&self) -> bool {
        self.working
    }

    /// Whether `folder` is watched now.
    #[cfg(test)]
    pub(crate) fn watches(&self, folder: &Folder) -> bool {
        self.working && self.by_folder.contains_key(folder)
    }

    /// Watches `folder` (at `path`) before what a cache keeps from it is
    /// read (so nothing written after the read goes unseen). `false` when
    /// it cannot be.
    pub(crate) fn watch(&mut self, folder: Folder, path: &Utf8Path) -> bool {
        if !self.working {
            return false;
        }
        if self.by_folder.contains_key(&folder) {
            return true;
        }
        if self.by_folder.len() >= MAX_WATCHES {
            return false;
        }
        match self.inotify.add_watch(path.as_std_path(), RUN_EVENTS) {
            Ok(wd) => {
                self.folders.insert(wd, folder.clone());
                self.by_folder.insert(folder, wd);
                true
            }
            Err(_) => false,
        }
    }

    /// Stops watching the folders `which` says (a cache started over).
    pub(crate) fn unwatch(&mut self, which: impl Fn(&Folder) -> bool) {
        let gone: Vec<Folder> = self
            .by_folder
            .keys()
            .filter(|f| which(f))
            .cloned()
            .collect();
        for folder in gone {
            if let Some(wd) = self.by_folder.remove(&folder) {
                self.folders.remove(&wd);
                let _ = self.inotify.rm_watch(wd);
            }
        }
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
        let Some(folder) = self.folders.get(&e.wd).cloned() else {
            return;
        };
        match &folder {
            Folder::Run(run) => {
                if gone || name.is_none_or(|n| n == RUN_JSON.as_bytes()) {
                    seen.runs.push(run.clone());
                }
            }
            // A job's folder holds its logs (and their sidecars): anything
            // there may be a log that grew.
            Folder::Job(run, job) => seen.jobs.push((run.clone(), job.clone())),
        }
        if gone {
            // Moved or deleted: whatever the path holds later is another
            // folder, watched afresh if it is read again.
            self.folders.remove(&e.wd);
            self.by_folder.remove(&folder);
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
        assert!(w.watch(Folder::Run(run.clone()), &folder));
        assert!(w.watches(&Folder::Run(run.clone())));
        let job: JobId = "build".parse().unwrap();
        assert!(w.watch(
            Folder::Job(run.clone(), job.clone()),
            &folder.join("jobs/build")
        ));
        // Logs and temporary files are not the record; a log is its job's.
        std::fs::write(folder.join("jobs/build/guest.log"), "x").unwrap();
        std::fs::write(folder.join(".run.json.tmp-1"), "{}").unwrap();
        let seen = w.drain();
        assert!(seen.runs.is_empty());
        assert!(seen.jobs.contains(&(run.clone(), job.clone())));
        // A record renamed into place is.
        std::fs::rename(folder.join(".run.json.tmp-1"), folder.join("run.json")).unwrap();
        assert_eq!(w.drain().runs, std::slice::from_ref(&run));
        // The run folder moved away (gc): seen, and no longer watched.
        std::fs::rename(&folder, root.join("gone")).unwrap();
        assert_eq!(w.drain().runs, std::slice::from_ref(&run));
        std::fs::remove_dir_all(root.join("gone")).unwrap();
        w.drain();
        assert!(!w.watches(&Folder::Run(run.clone())));
        assert!(!w.watches(&Folder::Job(run.clone(), job)));
        w.unwatch(|_| true);
        std::fs::remove_dir_all(&root).unwrap();
        let last = w.drain();
        assert!(last.everything && last.db);
        assert!(!w.working());
    }
}

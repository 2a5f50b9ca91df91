//! [`ChangeWatch`]: whether the database may have changed since it was last
//! asked, for the price of one non-blocking read of an inotify descriptor.
//!
//! Every commit to an SQLite database writes one of its files (the `-wal`
//! file, the `-journal` or the database itself), and the kernel queues an
//! inotify event during that write, before the commit returns. So once a
//! writer (this process, or `pika-news token revoke` in another one) has
//! committed, the next call here reports a change. Anything unexpected (the
//! folder went away, the queue overflowed, a read failed) also counts as a
//! change; where inotify cannot be had at all, the caller asks SQLite's
//! `PRAGMA data_version` instead.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use camino::Utf8Path;
use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

/// Watches the files of one database.
pub(crate) struct ChangeWatch {
    inotify: Inotify,
    /// The database's file name: its files are this name and this name
    /// followed by `-wal`, `-shm` or `-journal`.
    name: Vec<u8>,
    /// Whether the watch still works (a removed folder ends it).
    working: bool,
}

impl std::fmt::Debug for ChangeWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeWatch")
            .field("working", &self.working)
            .finish_non_exhaustive()
    }
}

impl ChangeWatch {
    /// Watches the folder of the database at `db`; `None` when inotify is
    /// not available (no more instances, another file system).
    pub(crate) fn new(db: &Utf8Path) -> Option<Self> {
        let folder = match db.parent() {
            Some(p) if !p.as_str().is_empty() => p,
            _ => Utf8Path::new("."),
        };
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).ok()?;
        let mask = AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_ATTRIB
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_MOVE_SELF;
        inotify.add_watch(folder.as_std_path(), mask).ok()?;
        Some(Self {
            inotify,
            name: db.file_name()?.as_bytes().to_vec(),
            working: true,
        })
    }

    /// Whether the watch still reports changes; once it does not, the caller
    /// must ask SQLite.
    pub(crate) fn working(&self) -> bool {
        self.working
    }

    /// Whether any of the database's files may have changed since the last
    /// call. Reads (and so forgets) what the kernel queued.
    pub(crate) fn changed(&mut self) -> bool {
        let mut changed = false;
        loop {
            match self.inotify.read_events() {
                Ok(events) => {
                    for e in events {
                        let ours = e.name.as_deref().is_none_or(|n| self.is_ours(n));
                        let gone = e.mask.intersects(
                            AddWatchFlags::IN_IGNORED
                                | AddWatchFlags::IN_DELETE_SELF
                                | AddWatchFlags::IN_MOVE_SELF
                                | AddWatchFlags::IN_Q_OVERFLOW,
                        );
                        if gone {
                            self.working = false;
                        }
                        changed |= ours || gone;
                    }
                }
                Err(Errno::EAGAIN) => return changed,
                Err(Errno::EINTR) => {}
                Err(_) => {
                    self.working = false;
                    return true;
                }
            }
        }
    }

    fn is_ours(&self, name: &OsStr) -> bool {
        name.as_bytes().starts_with(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_to_the_database_files_are_seen_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = camino::Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();
        let db = root.join("news.sqlite");
        std::fs::write(&db, "x").unwrap();
        let mut w = ChangeWatch::new(&db).expect("inotify works here");
        assert!(!w.changed());
        std::fs::write(root.join("news.sqlite-wal"), "frame").unwrap();
        assert!(w.changed());
        assert!(!w.changed(), "what was seen is forgotten");
        std::fs::write(root.join("other.txt"), "x").unwrap();
        assert!(!w.changed());
        std::fs::remove_dir_all(&root).unwrap();
        assert!(w.changed());
        assert!(!w.working());
    }
}

//! [`Reads`]: the read model, one value the server shares. It owns every
//! cache of what was read (records, log spans, line numbers), the disk
//! watch that keeps them fresh, the heavy-read permits, the liveness check
//! and the clock; the read operations are in `records` and `logs`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once};

use camino::Utf8PathBuf;
use pikaci_core::{Clock, SystemClock};
use pikaci_core::{JobId, Liveness, RunId, SystemLiveness};
use pikaci_store::{DiskFs, Fs, StateRoot, Store};

use super::ServedFs;
use super::answer_paths::ServerPaths;
use super::error::ReadError;
use super::heavy::HeavyReads;
use super::lines::LineIndex;
use super::record_cache::RecordCache;
use super::tail_cache::TailCache;
use super::watch::{DiskWatch, Folder};
use crate::data_dir::DataDir;

/// The read model over a state root of file system `F` (in the server
/// `ServedFs`: the disk, or [`MemFs`](pikaci_store::MemFs) in tests).
/// Cheap to clone: clones share every cache.
#[derive(Clone)]
pub(crate) struct Reads<F = ServedFs> {
    pub(super) store: Store<F>,
    /// The server folders no answer names.
    pub(super) paths: ServerPaths,
    /// The service's data folder, where lane runs' own logs are.
    pub(super) data_dir: Option<DataDir>,
    pub(super) liveness: Arc<dyn Liveness>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) heavy: HeavyReads,
    pub(super) lines: LineIndex,
    pub(super) records: Arc<RecordCache>,
    pub(super) tails: Arc<TailCache>,
    watch: Arc<Watches>,
    /// The database's file, watched beside the state root.
    db_path: Option<Utf8PathBuf>,
}

impl<F> std::fmt::Debug for Reads<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reads")
            .field("state_root", &self.paths.state_root)
            .field("records", &self.records)
            .field("tails", &self.tails)
            .finish_non_exhaustive()
    }
}

impl Reads<ServedFs> {
    /// Reads of the state root at `state_root` on disk, watched (with the
    /// database's file `db`, for the token cache) by inotify from the first
    /// request on, where the file systems allow it. The watch is the
    /// disk's alone: reads over another file system ([`Reads::over`]) ask
    /// it on each use.
    pub(crate) fn open(state_root: impl Into<Utf8PathBuf>, db: impl Into<Utf8PathBuf>) -> Self {
        let root = state_root.into();
        // As `Store::open`: no path below the root is read through a link.
        let disk: ServedFs = Arc::new(DiskFs::beneath(root.clone()));
        let mut reads = Self::over(Store::with_fs(disk, StateRoot::new(root)));
        reads.db_path = Some(db.into());
        reads.watch = Arc::new(Watches::new(watch_slots()));
        reads
    }
}

impl<F: Fs> Reads<F> {
    /// Reads of `store`, with no disk watch (the caches ask the file system
    /// on each use), the real liveness check and the system clock.
    pub(crate) fn over(store: Store<F>) -> Self {
        Self {
            paths: ServerPaths {
                state_root: store.root().path().to_owned(),
                data_dir: None,
            },
            store,
            data_dir: None,
            liveness: Arc::new(SystemLiveness::new()),
            clock: Arc::new(SystemClock),
            heavy: HeavyReads::default(),
            lines: LineIndex::default(),
            records: Arc::default(),
            tails: Arc::default(),
            watch: Arc::new(Watches::none()),
            db_path: None,
        }
    }

    /// The same, without the inotify watch: the caches ask the disk on
    /// each use (`run.json`'s identity), as they do by themselves where
    /// inotify cannot be trusted (a network file system).
    pub(crate) fn without_disk_watch(mut self) -> Self {
        self.watch = Arc::new(Watches::none());
        self
    }

    /// The same, with `heavy` bounding large reads.
    pub(crate) fn with_heavy_reads(mut self, heavy: HeavyReads) -> Self {
        self.heavy = heavy;
        self
    }

    /// The same, deciding with `liveness` whether a `running` run's owner
    /// is alive.
    pub(crate) fn with_liveness(mut self, liveness: Arc<dyn Liveness>) -> Self {
        self.liveness = liveness;
        self
    }

    /// The same, dating what it marks (an interrupted run) by `clock`.
    pub(crate) fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same, reading lane runs' own logs from `data_dir` (and naming it
    /// in no answer).
    pub(crate) fn with_data_dir(mut self, data_dir: DataDir) -> Self {
        self.paths.data_dir = Some(data_dir.root().to_owned());
        self.data_dir = Some(data_dir);
        self
    }

    /// The liveness check (live streams use it too).
    pub(crate) fn liveness(&self) -> &Arc<dyn Liveness> {
        &self.liveness
    }

    /// The heavy-read permits.
    pub(crate) fn heavy(&self) -> &HeavyReads {
        &self.heavy
    }

    /// The line index the log viewer counts with.
    pub(crate) fn lines(&self) -> &LineIndex {
        &self.lines
    }

    /// How many run records are cached.
    pub(crate) fn cached_records(&self) -> usize {
        self.records.len()
    }

    /// How many log spans are cached.
    pub(crate) fn cached_spans(&self) -> usize {
        self.tails.len()
    }
}

/// Runs `f` on the blocking pool: every read of the state root goes there,
/// never on a runtime worker (a branch's CI code writes those files).
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ReadError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ReadError::Task)
}

/// How many watches of the disk a model keeps: one per thread that serves
/// requests (one per core), so no request waits while another thread
/// drains its watch (a read of an inotify descriptor, a system call, under
/// that watch's lock).
fn watch_slots() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

/// The index of the calling thread, given in the order threads first ask.
fn thread_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    INDEX.with(|i| *i)
}

/// The model's watches of the disk: each an inotify instance watching the
/// same folders, drained by the threads it serves (each thread always the
/// same one), all made at the first request.
#[derive(Debug)]
struct Watches {
    made: Once,
    slots: Box<[Mutex<WatchSlot>]>,
}

impl Watches {
    fn new(slots: usize) -> Self {
        Self {
            made: Once::new(),
            slots: (0..slots.max(1))
                .map(|_| Mutex::new(WatchSlot::Unavailable))
                .collect(),
        }
    }

    /// No watch at all: the caches ask the disk each time.
    fn none() -> Self {
        let watches = Self::new(1);
        watches.made.call_once(|| {});
        watches
    }

    fn lock(slot: &Mutex<WatchSlot>) -> MutexGuard<'_, WatchSlot> {
        // Each change is a whole assignment or one watch added or removed.
        slot.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The calling thread's watch.
    fn own(&self) -> MutexGuard<'_, WatchSlot> {
        Self::lock(&self.slots[thread_index() % self.slots.len()])
    }

    /// Every watch, one after the other (never two locked at once).
    fn each(&self, mut f: impl FnMut(&mut WatchSlot)) {
        for slot in &self.slots {
            f(&mut Self::lock(slot));
        }
    }
}

/// One watch of the disk.
#[derive(Debug)]
enum WatchSlot {
    /// Made, not drained yet: its first drain says the database changed
    /// (what was cached before the watch began is not vouched for).
    New(DiskWatch),
    Working(DiskWatch),
    /// No inotify here (or it broke): the caches ask the disk each time.
    Unavailable,
}

/// What one request saw of the disk when its access was checked: whether
/// the database changed since the last request (`None`: not watched, ask
/// SQLite), and whether cached records' folders are watched (if not,
/// `run.json`'s identity is checked instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fresh {
    db_changed: Option<bool>,
    watching: bool,
}

impl Fresh {
    /// Whether the database's files changed since the last look, if watched.
    pub(crate) fn db_changed(self) -> Option<bool> {
        self.db_changed
    }

    /// Whether run folders are watched, so a cached record stands until an
    /// event says otherwise.
    pub(crate) fn watching(self) -> bool {
        self.watching
    }

    const UNWATCHED: Self = Self {
        db_changed: None,
        watching: false,
    };
}

impl<F: Fs> Reads<F> {
    /// Looks at what changed on disk since the last request (one
    /// non-blocking read of the calling thread's inotify descriptor):
    /// records whose `run.json` changed leave the record cache, spans whose
    /// job folder changed leave the tail cache, and the answer says whether
    /// the database changed (which empties the token cache). Called once
    /// per request by the access check, before any cache is used.
    pub(crate) fn fresh(&self) -> Fresh {
        self.watch.made.call_once(|| {
            let db = self.db_path.as_deref();
            self.watch.each(|slot| {
                if let Some(w) = db.and_then(|db| DiskWatch::new(db, self.store.root().path())) {
                    *slot = WatchSlot::New(w);
                }
            });
            // Whatever was cached before the watches began is not vouched for.
            self.records.clear();
            self.tails.clear();
        });
        let mut slot = self.watch.own();
        let first = matches!(*slot, WatchSlot::New(_));
        let (WatchSlot::New(w) | WatchSlot::Working(w)) = &mut *slot else {
            return Fresh::UNWATCHED;
        };
        let seen = w.drain();
        if seen.everything {
            self.records.clear();
            self.tails.clear();
            w.unwatch(|_| true);
        }
        for run in &seen.runs {
            self.records.remove(run);
        }
        for (run, job) in &seen.jobs {
            self.tails.remove_job(run, job);
        }
        if !w.working() {
            self.tails.clear();
            *slot = WatchSlot::Unavailable;
            return Fresh::UNWATCHED;
        }
        if first && let WatchSlot::New(w) = std::mem::replace(&mut *slot, WatchSlot::Unavailable) {
            *slot = WatchSlot::Working(w);
        }
        Fresh {
            db_changed: Some(seen.db || first),
            watching: true,
        }
    }

    /// Stops watching the folders of a kind (its cache started over): run
    /// folders (`jobs` false) or job folders.
    pub(super) fn unwatch(&self, jobs: bool) {
        self.watch.each(|slot| {
            if let WatchSlot::New(w) | WatchSlot::Working(w) = slot {
                w.unwatch(|f| matches!(f, Folder::Job(..)) == jobs);
            }
        });
    }

    /// Watches the folder of `run` before its record is read and cached;
    /// `false` when there is no watch or it cannot take one more.
    pub(super) fn watch_run(&self, run: &RunId) -> bool {
        self.watch_folder(|| (Folder::Run(run.clone()), self.store.root().run_dir(run)))
    }

    /// Watches the folder of `job` of `run` before a span of its log is
    /// read and cached; `false` when there is no watch or it cannot.
    pub(super) fn watch_job(&self, run: &RunId, job: &JobId) -> bool {
        self.watch_folder(|| {
            (
                Folder::Job(run.clone(), job.clone()),
                self.store.root().job_dir(run, job),
            )
        })
    }

    /// Watches a folder in every watch that works; `true` when at least
    /// one works and every one that works took it (a thread whose watch
    /// does not work asks the disk instead).
    fn watch_folder(&self, folder: impl FnOnce() -> (Folder, Utf8PathBuf)) -> bool {
        let (folder, path) = folder();
        let (mut any, mut all) = (false, true);
        self.watch.each(|slot| {
            if let WatchSlot::New(w) | WatchSlot::Working(w) = slot {
                any = true;
                all &= w.watch(folder.clone(), &path);
            }
        });
        any && all
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use pikaci_core::RunRecord;

    use super::*;

    /// A thread with its own runtime that reads `run`'s record (after its
    /// look at the disk) each time it is asked, and says what it read.
    fn reader(reads: Reads, run: RunId) -> (mpsc::Sender<()>, mpsc::Receiver<(String, bool)>) {
        let (ask, asked) = mpsc::channel::<()>();
        let (tell, told) = mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            while asked.recv().is_ok() {
                let fresh = reads.fresh();
                let read = rt.block_on(reads.record(run.clone(), fresh)).unwrap();
                let message = read.cached.record.message.clone().unwrap_or_default();
                // `dir` is none only for a record the watch vouched for.
                tell.send((message, read.dir.is_none())).unwrap();
            }
        });
        (ask, told)
    }

    #[test]
    fn every_thread_sees_a_change_made_before_its_request_through_its_own_watch() {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();
        let db = root.join("news.sqlite");
        std::fs::write(&db, "x").unwrap();
        let state_root = root.join("state");
        let store = Store::open(state_root.clone());
        let mut record = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        record.message = Some("first".into());
        store.persist_run_record(&record).unwrap();
        let mut reads = Reads::open(state_root, db);
        reads.watch = Arc::new(Watches::new(2));
        let run = record.run_id.clone();
        let (a, from_a) = reader(reads.clone(), run.clone());
        let (b, from_b) = reader(reads.clone(), run.clone());
        let ask = |who: &mpsc::Sender<()>, answer: &mpsc::Receiver<(String, bool)>| {
            who.send(()).unwrap();
            answer.recv().unwrap()
        };
        assert_eq!(ask(&a, &from_a), ("first".into(), false), "read and kept");
        assert_eq!(ask(&a, &from_a), ("first".into(), true), "kept, watched");
        assert_eq!(ask(&b, &from_b), ("first".into(), true), "the same entry");
        assert_eq!(
            reads
                .watch
                .slots
                .iter()
                .filter(|s| matches!(*Watches::lock(s), WatchSlot::Working(_)))
                .count(),
            2,
            "each thread drains a watch of its own"
        );
        for (n, (first, second)) in [
            ((&a, &from_a), (&b, &from_b)),
            ((&b, &from_b), (&a, &from_a)),
        ]
        .into_iter()
        .enumerate()
        {
            let message = format!("changed {n}");
            record.message = Some(message.clone());
            store.persist_run_record(&record).unwrap();
            assert_eq!(ask(first.0, first.1).0, message);
            assert_eq!(ask(second.0, second.1).0, message);
            assert_eq!(ask(second.0, second.1), (message.clone(), true));
        }
    }
}

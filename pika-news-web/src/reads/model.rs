//! [`Reads`]: the read model, one value the server shares. It owns every
//! cache of what was read (records, log spans, line numbers), the disk
//! watch that keeps them fresh, the heavy-read permits, the liveness check
//! and the clock; the read operations are in `records` and `logs`.

use std::sync::{Arc, Mutex, MutexGuard};

use camino::Utf8PathBuf;
use pikaci_core::engine::{Clock, SystemClock};
use pikaci_core::{JobId, Liveness, RunId, SystemLiveness};
use pikaci_store::{DiskFs, Fs, Store};

use super::answer_paths::ServerPaths;
use super::error::ReadError;
use super::heavy::HeavyReads;
use super::lines::LineIndex;
use super::record_cache::RecordCache;
use super::tail_cache::TailCache;
use super::watch::{DiskWatch, Folder};
use crate::data_dir::DataDir;

/// The read model over a state root of file system `F` (the disk in the
/// server, [`MemFs`](pikaci_store::MemFs) in tests). Cheap to clone: clones
/// share every cache.
#[derive(Clone)]
pub struct Reads<F = DiskFs> {
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
    watch: Arc<Mutex<WatchSlot>>,
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

impl Reads<DiskFs> {
    /// Reads of the state root at `state_root` on disk, watched (with the
    /// database's file `db`, for the token cache) by inotify from the first
    /// request on, where the file systems allow it.
    pub fn open(state_root: impl Into<Utf8PathBuf>, db: impl Into<Utf8PathBuf>) -> Self {
        let mut reads = Self::over(Store::open(state_root));
        reads.db_path = Some(db.into());
        reads.watch = Arc::new(Mutex::new(WatchSlot::Untried));
        reads
    }
}

impl<F: Fs> Reads<F> {
    /// Reads of `store`, with no disk watch (the caches ask the file system
    /// on each use), the real liveness check and the system clock.
    pub fn over(store: Store<F>) -> Self {
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
            watch: Arc::new(Mutex::new(WatchSlot::Unavailable)),
            db_path: None,
        }
    }

    /// The same, without the inotify watch: the caches ask the disk on
    /// each use (`run.json`'s identity), as they do by themselves where
    /// inotify cannot be trusted (a network file system).
    pub fn without_disk_watch(mut self) -> Self {
        self.watch = Arc::new(Mutex::new(WatchSlot::Unavailable));
        self
    }

    /// The same, with `heavy` bounding large reads.
    pub fn with_heavy_reads(mut self, heavy: HeavyReads) -> Self {
        self.heavy = heavy;
        self
    }

    /// The same, deciding with `liveness` whether a `running` run's owner
    /// is alive.
    pub fn with_liveness(mut self, liveness: Arc<dyn Liveness>) -> Self {
        self.liveness = liveness;
        self
    }

    /// The same, dating what it marks (an interrupted run) by `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The same, reading lane runs' own logs from `data_dir` (and naming it
    /// in no answer).
    pub fn with_data_dir(mut self, data_dir: DataDir) -> Self {
        self.paths.data_dir = Some(data_dir.root().to_owned());
        self.data_dir = Some(data_dir);
        self
    }

    /// The store read.
    pub fn store(&self) -> &Store<F> {
        &self.store
    }

    /// The liveness check (live streams use it too).
    pub fn liveness(&self) -> &Arc<dyn Liveness> {
        &self.liveness
    }

    /// The heavy-read permits.
    pub fn heavy(&self) -> &HeavyReads {
        &self.heavy
    }

    /// The line index the log viewer counts with.
    pub(crate) fn lines(&self) -> &LineIndex {
        &self.lines
    }

    /// How many run records are cached.
    pub fn cached_records(&self) -> usize {
        self.records.len()
    }

    /// How many log spans are cached.
    pub fn cached_spans(&self) -> usize {
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

/// The model's watch of the disk, made when first needed.
#[derive(Debug, Default)]
enum WatchSlot {
    #[default]
    Untried,
    Working(DiskWatch),
    /// No inotify here (or it broke): the caches ask the disk each time.
    Unavailable,
}

/// What one request saw of the disk when its access was checked: whether
/// the database changed since the last request (`None`: not watched, ask
/// SQLite), and whether cached records' folders are watched (if not,
/// `run.json`'s identity is checked instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fresh {
    db_changed: Option<bool>,
    watching: bool,
}

impl Fresh {
    /// Whether the database's files changed since the last look, if watched.
    pub fn db_changed(self) -> Option<bool> {
        self.db_changed
    }

    /// Whether run folders are watched, so a cached record stands until an
    /// event says otherwise.
    pub fn watching(self) -> bool {
        self.watching
    }

    const UNWATCHED: Self = Self {
        db_changed: None,
        watching: false,
    };
}

impl<F: Fs> Reads<F> {
    fn slot(&self) -> MutexGuard<'_, WatchSlot> {
        // Each change is a whole assignment or one watch added or removed.
        self.watch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Looks at what changed on disk since the last request (one
    /// non-blocking read of the inotify descriptor): records whose
    /// `run.json` changed leave the record cache, spans whose job folder
    /// changed leave the tail cache, and the answer says whether the
    /// database changed (which empties the token cache). Called once per
    /// request by the access check, before any cache is used.
    pub fn fresh(&self) -> Fresh {
        let mut slot = self.slot();
        if matches!(*slot, WatchSlot::Untried) {
            let made = self
                .db_path
                .as_deref()
                .and_then(|db| DiskWatch::new(db, self.store.root().path()));
            *slot = match made {
                Some(w) => WatchSlot::Working(w),
                None => WatchSlot::Unavailable,
            };
            // Whatever was cached before the watch began is not vouched for.
            self.records.clear();
            self.tails.clear();
            if matches!(*slot, WatchSlot::Working(_)) {
                return Fresh {
                    db_changed: Some(true),
                    watching: true,
                };
            }
        }
        let WatchSlot::Working(w) = &mut *slot else {
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
        Fresh {
            db_changed: Some(seen.db),
            watching: true,
        }
    }

    /// Stops watching the folders of a kind (its cache started over): run
    /// folders (`jobs` false) or job folders.
    pub(super) fn unwatch(&self, jobs: bool) {
        if let WatchSlot::Working(w) = &mut *self.slot() {
            w.unwatch(|f| matches!(f, Folder::Job(..)) == jobs);
        }
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

    fn watch_folder(&self, folder: impl FnOnce() -> (Folder, Utf8PathBuf)) -> bool {
        match &mut *self.slot() {
            WatchSlot::Working(w) => {
                let (folder, path) = folder();
                w.watch(folder, &path)
            }
            _ => false,
        }
    }
}

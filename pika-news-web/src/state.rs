//! [`AppState`]: what every handler shares.

use std::sync::{Arc, Mutex};

use camino::Utf8PathBuf;
use pikaci_core::{Liveness, SystemLiveness};
use pikaci_store::Store;

use crate::api::HeavyReads;
use crate::api::record_cache::RecordCache;
use crate::api::tail_cache::TailCache;
use crate::data_dir::DataDir;
use crate::db::Db;
use crate::live::{self, LiveLogs};
use crate::login::Logins;
use crate::pages::LineIndex;
use crate::watch::{DiskWatch, Folder};
use pikaci_core::{JobId, RunId};

/// What every handler shares, behind one reference count: axum clones the
/// state for each request (twice), and a clone of [`AppState`] is one
/// atomic increment, not one per field (and no allocation). Fields are read
/// through `Deref`; setting one (`state.liveness = ...`, in tests and while
/// building) copies the fields first if the state is shared.
#[derive(Clone)]
pub struct AppState(Arc<StateFields>);

impl std::ops::Deref for AppState {
    type Target = StateFields;
    fn deref(&self) -> &StateFields {
        &self.0
    }
}

impl std::ops::DerefMut for AppState {
    fn deref_mut(&mut self) -> &mut StateFields {
        Arc::make_mut(&mut self.0)
    }
}

/// The fields of an [`AppState`].
#[derive(Clone)]
pub struct StateFields {
    /// The database.
    pub db: Db,
    /// The repository's pikaci state root: no run outside it is ever served.
    pub store: Store,
    /// Whether reads need no token.
    pub public_read: bool,
    /// Whether the page cookie is `Secure` (the public address is https).
    pub secure_cookies: bool,
    /// Decides whether a `running` run's owner is alive.
    pub liveness: Arc<dyn Liveness>,
    /// Wakes the scheduler (the wake endpoint), when one runs.
    pub waker: Option<Arc<tokio::sync::Notify>>,
    /// The service's data folder, where lane logs are (when lanes run).
    pub data_dir: Option<DataDir>,
    /// How many large reads run at once.
    pub heavy: HeavyReads,
    /// Line numbers of log positions, counted once per log for the pages.
    pub(crate) lines: LineIndex,
    /// The logs being followed live, shared by every stream.
    pub live: Arc<LiveLogs>,
    /// Run records read before, valid while their `run.json` is unchanged.
    pub records: Arc<RecordCache>,
    /// Spans of logs read before, while their job's folder is unchanged.
    pub tails: Arc<TailCache>,
    /// The inotify watch that keeps the caches fresh (made on first use).
    watch: Arc<Mutex<WatchSlot>>,
    /// The repository's name, e.g. `sledtools/pika` (empty when not told).
    pub repo: String,
    /// The repository's default branch.
    pub default_branch: String,
    /// `ph login`: its challenges, and who may log in.
    pub logins: Arc<Logins>,
    /// The repository merges and closes change (none: those routes answer 404).
    pub forge: Option<crate::branch_actions::Forge>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Debug for StateFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("state_root", &self.store.root().path())
            .field("public_read", &self.public_read)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over a database and a state root, with the real liveness check.
    pub fn new(db: Db, state_root: impl Into<Utf8PathBuf>, public_read: bool) -> Self {
        Self(Arc::new(StateFields {
            db,
            store: Store::open(state_root),
            public_read,
            secure_cookies: false,
            liveness: Arc::new(SystemLiveness::new()),
            waker: None,
            data_dir: None,
            heavy: HeavyReads::default(),
            lines: LineIndex::default(),
            live: Arc::new(LiveLogs::new(live::Settings::default())),
            records: Arc::default(),
            tails: Arc::default(),
            watch: Arc::default(),
            repo: String::new(),
            default_branch: crate::config::DEFAULT_BRANCH.to_owned(),
            logins: Arc::default(),
            forge: None,
        }))
    }

    /// The same state without the inotify watch: the caches ask the disk on
    /// each use (SQLite's data version, `run.json`'s identity), as they do
    /// by themselves where inotify cannot be trusted (a network file system).
    pub fn without_disk_watch(mut self) -> Self {
        self.watch = Arc::new(Mutex::new(WatchSlot::Unavailable));
        self
    }

    /// The same state, with `heavy` bounding large reads.
    pub fn with_heavy_reads(mut self, heavy: HeavyReads) -> Self {
        self.heavy = heavy;
        self
    }

    /// The same state, with live streams that behave as `settings` say.
    pub fn with_live_settings(mut self, settings: live::Settings) -> Self {
        self.live = Arc::new(LiveLogs::new(settings));
        self
    }

    /// The same state, naming the repository and its default branch.
    pub fn with_repo(mut self, repo: impl Into<String>, default_branch: impl Into<String>) -> Self {
        self.repo = repo.into();
        self.default_branch = default_branch.into();
        self
    }
    /// The same state, with `logins` deciding `ph login`.
    pub fn with_logins(mut self, logins: impl Into<Arc<Logins>>) -> Self {
        self.logins = logins.into();
        self
    }

    /// The same state, serving lane logs from `data_dir`.
    pub fn with_data_dir(mut self, data_dir: DataDir) -> Self {
        self.data_dir = Some(data_dir);
        self
    }

    /// The same state, with the page cookie `Secure` when `secure` (the
    /// server's public address is https).
    pub fn with_secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = secure;
        self
    }

    /// The same state, merging and closing branches of `forge`.
    pub fn with_forge(mut self, forge: crate::branch_actions::Forge) -> Self {
        self.forge = Some(forge);
        self
    }

    /// The same state, with a scheduler to wake.
    pub fn with_waker(mut self, waker: Arc<tokio::sync::Notify>) -> Self {
        self.waker = Some(waker);
        self
    }
}

/// The state's watch of the disk, made when first needed.
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
}

impl StateFields {
    /// Tells the scheduler to look for new heads and queued lanes now;
    /// `false` when no scheduler runs in this server.
    pub(crate) fn wake(&self) -> bool {
        self.waker.as_ref().map(|w| w.notify_one()).is_some()
    }

    /// Looks at what changed on disk since the last request (one
    /// non-blocking read of the inotify descriptor): records whose
    /// `run.json` changed leave the record cache, and the answer says
    /// whether the database changed (which empties the token cache). Called
    /// once per request by the access check, before any cache is used.
    pub(crate) fn fresh(&self) -> Fresh {
        let mut slot = self
            .watch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if matches!(*slot, WatchSlot::Untried) {
            *slot = match DiskWatch::new(self.db.path(), self.store.root().path()) {
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
            return Fresh {
                db_changed: None,
                watching: false,
            };
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
            return Fresh {
                db_changed: None,
                watching: false,
            };
        }
        Fresh {
            db_changed: Some(seen.db),
            watching: true,
        }
    }

    /// Stops watching the folders of a kind (its cache started over): run
    /// folders (`jobs` false) or job folders.
    pub(crate) fn unwatch(&self, jobs: bool) {
        let mut slot = self
            .watch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let WatchSlot::Working(w) = &mut *slot {
            w.unwatch(|f| matches!(f, Folder::Job(..)) == jobs);
        }
    }

    /// Watches the folder of `run` before its record is read and cached;
    /// `false` when there is no watch or it cannot take one more.
    pub(crate) fn watch_run(&self, run: &RunId) -> bool {
        self.watch_folder(Folder::Run(run.clone()), &self.store.root().run_dir(run))
    }

    /// Watches the folder of `job` of `run` before a span of its log is
    /// read and cached; `false` when there is no watch or it cannot.
    pub(crate) fn watch_job(&self, run: &RunId, job: &JobId) -> bool {
        self.watch_folder(
            Folder::Job(run.clone(), job.clone()),
            &self.store.root().job_dir(run, job),
        )
    }

    fn watch_folder(&self, folder: Folder, path: &camino::Utf8Path) -> bool {
        let mut slot = self
            .watch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &mut *slot {
            WatchSlot::Working(w) => w.watch(folder, path),
            _ => false,
        }
    }
}

//! [`AppState`]: what every handler shares.

use std::sync::Arc;

use camino::Utf8PathBuf;
use pikaci_core::{Liveness, SystemLiveness};
use pikaci_store::Store;

use crate::data_dir::DataDir;
use crate::db::Db;
use crate::live::{self, LiveLogs};
use crate::pages::LineIndex;

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The repository's pikaci state root: no run outside it is ever served.
    pub store: Store,
    /// Whether reads need no token.
    pub public_read: bool,
    /// Decides whether a `running` run's owner is alive.
    pub liveness: Arc<dyn Liveness>,
    /// Wakes the scheduler (the wake endpoint), when one runs.
    pub waker: Option<Arc<tokio::sync::Notify>>,
    /// The service's data folder, where lane logs are (when lanes run).
    pub data_dir: Option<DataDir>,
    /// Line numbers of log positions, counted once per log for the pages.
    pub(crate) lines: LineIndex,
    /// The logs being followed live, shared by every stream.
    pub live: Arc<LiveLogs>,
    /// The repository's name, e.g. `sledtools/pika` (empty when not told).
    pub repo: String,
    /// The repository's default branch.
    pub default_branch: String,
}

impl std::fmt::Debug for AppState {
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
        Self {
            db,
            store: Store::open(state_root),
            public_read,
            liveness: Arc::new(SystemLiveness::new()),
            waker: None,
            data_dir: None,
            lines: LineIndex::default(),
            live: Arc::new(LiveLogs::new(live::Settings::default())),
            repo: String::new(),
            default_branch: crate::config::DEFAULT_BRANCH.to_owned(),
        }
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
    /// The same state, serving lane logs from `data_dir`.
    pub fn with_data_dir(mut self, data_dir: DataDir) -> Self {
        self.data_dir = Some(data_dir);
        self
    }

    /// The same state, with a scheduler to wake.
    pub fn with_waker(mut self, waker: Arc<tokio::sync::Notify>) -> Self {
        self.waker = Some(waker);
        self
    }
}

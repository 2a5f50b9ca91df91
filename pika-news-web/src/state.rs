//! [`AppState`]: what every handler shares.

use std::sync::Arc;

use camino::Utf8PathBuf;
use pikaci_core::Liveness;

use crate::data_dir::DataDir;
use crate::db::Db;
use crate::live::{self, LiveLogs};
use crate::login::Logins;
use crate::reads::{HeavyReads, Reads};

/// What every handler shares, behind one reference count: axum clones the
/// state for each request (twice), and a clone of [`AppState`] is one
/// atomic increment, not one per field (and no allocation). Fields are read
/// through `Deref`; setting one (`state.public_read = ...`, in tests and
/// while building) copies the fields first if the state is shared.
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

/// The fields of an [`AppState`], read by this crate's handlers through
/// `Deref`; an embedder builds and inspects a state by its methods.
#[derive(Clone)]
pub struct StateFields {
    /// The database.
    pub(crate) db: Db,
    /// Every read of runs and logs, and their caches: the repository's
    /// pikaci state root (no run outside it is ever served) and lane runs'
    /// own logs.
    pub(crate) reads: Reads,
    /// Whether reads need no token.
    pub(crate) public_read: bool,
    /// Whether the page cookie is `Secure` (the public address is https).
    pub(crate) secure_cookies: bool,
    /// Wakes the scheduler (the wake endpoint), when one runs.
    pub(crate) waker: Option<Arc<tokio::sync::Notify>>,
    /// The logs being followed live, shared by every stream.
    pub(crate) live: Arc<LiveLogs>,
    /// The repository's name, e.g. `sledtools/pika` (empty when not told).
    pub(crate) repo: String,
    /// The repository's default branch.
    pub(crate) default_branch: String,
    /// `ph login`: its challenges, and who may log in.
    pub(crate) logins: Arc<Logins>,
    /// The repository merges and closes change (none: those routes answer 404).
    pub(crate) forge: Option<crate::branch_actions::Forge>,
    /// Where the pages link a commit to (`[forge_repo] commit_url`); none:
    /// to its CI status on this server.
    pub(crate) commit_url: Option<crate::config::CommitUrl>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::fmt::Debug for StateFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("reads", &self.reads)
            .field("public_read", &self.public_read)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// State over a database and a state root, with the real liveness check.
    pub fn new(db: Db, state_root: impl Into<Utf8PathBuf>, public_read: bool) -> Self {
        let reads = Reads::open(state_root, db.path()).with_clock(db.clock().clone());
        Self::over(db, reads, public_read)
    }

    /// State over a database and a read model of any file system (the
    /// in-memory one in tests), not watched: its caches ask the file
    /// system on each use.
    pub(crate) fn over(db: Db, reads: Reads, public_read: bool) -> Self {
        Self(Arc::new(StateFields {
            db,
            reads,
            public_read,
            secure_cookies: false,
            waker: None,
            live: Arc::new(LiveLogs::new(live::Settings::default())),
            repo: String::new(),
            default_branch: crate::config::DEFAULT_BRANCH.to_owned(),
            logins: Arc::default(),
            forge: None,
            commit_url: None,
        }))
    }

    /// The same state without the inotify watch: the caches ask the disk on
    /// each use (SQLite's data version, `run.json`'s identity), as they do
    /// by themselves where inotify cannot be trusted (a network file system).
    pub fn without_disk_watch(mut self) -> Self {
        self.reads = self.reads.clone().without_disk_watch();
        self
    }

    /// The same state, with `heavy` bounding large reads.
    pub fn with_heavy_reads(mut self, heavy: HeavyReads) -> Self {
        self.reads = self.reads.clone().with_heavy_reads(heavy);
        self
    }

    /// The same state, deciding with `liveness` whether a `running` run's
    /// owner is alive.
    pub fn with_liveness(mut self, liveness: Arc<dyn Liveness>) -> Self {
        self.reads = self.reads.clone().with_liveness(liveness);
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
        self.reads = self.reads.clone().with_data_dir(data_dir);
        self
    }

    /// The same state, with the page cookie `Secure` when `secure` (the
    /// server's public address is https).
    pub fn with_secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = secure;
        self
    }

    /// Links the pages' commits to `url` instead of their CI status here.
    pub fn with_commit_url(mut self, url: Option<crate::config::CommitUrl>) -> Self {
        self.commit_url = url;
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

impl AppState {
    /// How many run records the read model holds in its cache.
    pub fn cached_records(&self) -> usize {
        self.reads.cached_records()
    }

    /// How many log spans the read model holds in its cache.
    pub fn cached_spans(&self) -> usize {
        self.reads.cached_spans()
    }

    /// How many logs are followed live now (one follower each, however
    /// many clients watch it).
    pub fn followed_logs(&self) -> usize {
        self.live.followed()
    }
}

impl StateFields {
    /// Tells the scheduler to look for new heads and queued lanes now;
    /// `false` when no scheduler runs in this server.
    pub(crate) fn wake(&self) -> bool {
        self.waker.as_ref().map(|w| w.notify_one()).is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use http_body_util::BodyExt as _;
    use pikaci_core::RunRecord;
    use pikaci_store::{MemFs, StateRoot, Store};
    use tower::ServiceExt as _;

    use super::*;
    use crate::reads::ServedFs;

    const RUN: &str = "20260324T161238Z-1a2b3c4d";

    /// The server's state is not tied to the disk: a run record kept only
    /// in memory is served through the router, as the disk's would be.
    #[tokio::test]
    async fn a_run_record_in_an_in_memory_state_root_is_served() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&Utf8PathBuf::try_from(dir.path().join("news.sqlite")).unwrap()).unwrap();
        let root = Utf8PathBuf::try_from(dir.path().join("state")).unwrap();
        let fs: ServedFs = Arc::new(MemFs::new());
        let store = Store::with_fs(fs, StateRoot::new(root.clone()));
        let mut record = RunRecord::for_test(RUN);
        record.message = Some("kept in memory".into());
        store.persist_run_record(&record).unwrap();
        let state = AppState::over(db, Reads::over(store), true);

        let uri = format!("/news/api/forge/pikaci/run/{RUN}");
        let request = Request::get(uri.as_str()).body(Body::empty()).unwrap();
        let resp = crate::routes::router(state).oneshot(request).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["run_id"], RUN, "{body}");
        assert_eq!(body["message"], "kept in memory", "{body}");
        assert!(!root.exists(), "nothing was written to the disk");
    }
}

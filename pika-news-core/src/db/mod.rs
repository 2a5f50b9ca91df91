//! The SQLite database: tokens, branches, suites, lanes and nightly runs.
//!
//! Created and migrated on open (WAL, foreign keys on, a busy timeout). Each
//! call runs on a blocking thread with a pooled connection, so async handlers
//! never block the runtime. Rows are typed ([`types`]): statuses are enums and
//! ids are newtypes, and a stored value this version does not know is an
//! error. Every timestamp written comes from the [`Clock`] the database was
//! opened with, so tests move time instead of sleeping or editing rows.

mod branch_end;
mod compat;
mod forge;
mod listing;
mod nightly;
mod npubs;
mod overview;
mod queue;
mod recovery;
mod schema;
mod token_cache;
mod tokens;
pub mod types;
mod waiting;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use jiff::Timestamp;
use pikaci_core::{Clock, SystemClock};
use rusqlite::Connection;

pub use branch_end::BranchEnd;
pub use compat::{BranchMeta, LaneDetail, SuiteDetail};
pub use forge::{Branch, Lane, NewLane, Suite};
pub use listing::{DEFAULT_PAGE, MAX_PAGE, Page};
pub use nightly::{NewNightly, NewNightlyLane, NightlyRun};
pub use npubs::{LOGIN_TOKEN_TTL, LoginToken, NpubEntry};
pub use overview::BranchOverview;
pub use queue::{Claim, LaneAction, STALE_REQUEUED};
pub use recovery::HeldLane;
pub use token_cache::Owner as TokenOwner;
pub use tokens::TokenInfo;
pub use types::{
    BranchId, BranchState, LaneRunId, LaneScope, LaneStatus, NightlyRunId, Role, RowId, SuiteId,
    SuiteStatus,
};
pub use waiting::{Holder, QueueReason};

/// How long a connection waits for a lock before reporting busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A database error.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A blocking task failed to run.
    #[error("database task failed: {0}")]
    Task(String),
    /// A name is already taken.
    #[error("{what} {name:?} already exists")]
    Exists {
        /// What kind of thing.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// The change does not fit the current state.
    #[error("{0}")]
    Conflict(String),
    /// A thing asked for is not there.
    #[error("{what} {name:?} not found")]
    NotFound {
        /// What kind of thing.
        what: &'static str,
        /// Its name.
        name: String,
    },
}

/// The token check's own connection (opened on first use) and its cache.
#[derive(Default)]
struct AuthSlot {
    conn: Option<Connection>,
    cache: token_cache::TokenCache,
}

/// How many lanes may run at once until [`Db::set_lane_slots`] says
/// otherwise (`[forge_repo] ci_concurrency`'s default).
pub const DEFAULT_LANE_SLOTS: u32 = 1;

/// How many idle connections are kept for reuse.
const POOL_SIZE: usize = 32;

/// The database of one pika-news instance. Clones share a small pool of
/// connections, so a request does not pay for opening one.
#[derive(Clone)]
pub struct Db {
    path: Utf8PathBuf,
    idle: Arc<std::sync::Mutex<Vec<Connection>>>,
    auth: Arc<std::sync::Mutex<AuthSlot>>,
    clock: Arc<dyn Clock>,
    /// How many lanes may run at once: set by the scheduler that claims
    /// them, shared by every clone, so the reasons the answers give use the
    /// limit the claim uses.
    lane_slots: Arc<AtomicU32>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (creating and migrating) the database at `path`, on the system clock.
    pub fn open(path: &Utf8Path) -> Result<Self, DbError> {
        Self::open_with_clock(path, Arc::new(SystemClock))
    }

    /// Opens (creating and migrating) the database at `path`; every time it
    /// stores (creation, start, finish, lease expiry) comes from `clock`.
    pub fn open_with_clock(path: &Utf8Path, clock: Arc<dyn Clock>) -> Result<Self, DbError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        // Made readable by its owner only: it holds the token hashes, and
        // SQLite gives its -wal and -shm files the same mode.
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path);
        }
        let db = Self {
            path: path.to_owned(),
            idle: Arc::default(),
            auth: Arc::default(),
            clock,
            lane_slots: Arc::new(AtomicU32::new(DEFAULT_LANE_SLOTS)),
        };
        let mut conn = db.connect()?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        schema::migrate(&mut conn)?;
        Ok(db)
    }

    /// The database file.
    pub fn path(&self) -> &Utf8Path {
        &self.path
    }

    /// The clock the database stamps rows with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Sets how many lanes may run at once (at least 1), for this handle
    /// and every clone of it: the limit [`Db::claim_lane`] claims under and
    /// the queued lanes' [`QueueReason`]s are given by.
    pub fn set_lane_slots(&self, slots: u32) {
        self.lane_slots.store(slots.max(1), Ordering::Relaxed);
    }

    /// How many lanes may run at once.
    pub fn lane_slots(&self) -> u32 {
        self.lane_slots.load(Ordering::Relaxed)
    }

    /// The limit and the time a claim or a queue reason is decided with.
    pub(crate) fn queue_rules(&self) -> waiting::QueueRules {
        waiting::QueueRules {
            slots: self.lane_slots(),
            now: self.clock.now(),
        }
    }

    /// Now, as stored.
    pub(crate) fn now_text(&self) -> String {
        stored_time(self.clock.now())
    }

    fn connect(&self) -> Result<Connection, DbError> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(conn)
    }

    /// Runs `f` with a pooled connection on a blocking thread.
    pub async fn call<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, DbError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.call_blocking(f))
            .await
            .map_err(|e| DbError::Task(e.to_string()))?
    }

    /// Runs a short read on the connection kept for token checks, with the
    /// cache of tokens seen valid.
    pub(crate) fn with_auth_conn<T>(
        &self,
        f: impl FnOnce(&Connection, &mut token_cache::TokenCache) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let mut slot = self
            .auth
            .lock()
            .map_err(|_| DbError::Task("the token check lock is poisoned".into()))?;
        let AuthSlot { conn, cache } = &mut *slot;
        if conn.is_none() {
            *conn = Some(self.connect()?);
        }
        match conn.as_ref() {
            Some(c) => f(c, cache),
            None => Err(DbError::Task("no token check connection".into())),
        }
    }

    /// Runs `f` with a pooled connection on this thread.
    pub fn call_blocking<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let mut conn = match pooled {
            Some(c) => c,
            None => self.connect()?,
        };
        let result = f(&mut conn);
        // A connection left inside a transaction (an error mid-way) is dropped, not reused.
        if conn.is_autocommit()
            && let Ok(mut idle) = self.idle.lock()
            && idle.len() < POOL_SIZE
        {
            idle.push(conn);
        }
        result
    }
}

/// A time as stored and answered: RFC 3339, UTC, always exactly three
/// fractional digits (`2026-12-07T20:01:47.000Z`), so stored times compare
/// and sort as text (`lease_expires_at < ?`) and every answer has one
/// precision. Migration 8 brought older rows to this form.
pub fn stored_time(t: Timestamp) -> String {
    let ms = Timestamp::from_millisecond(t.as_millisecond()).unwrap_or(t);
    format!("{ms:.3}")
}

#[cfg(test)]
mod tests {
    use super::stored_time;

    #[test]
    fn stored_times_have_exactly_three_fractional_digits_and_sort_as_text() {
        let t = |s: &str| s.parse::<jiff::Timestamp>().unwrap();
        assert_eq!(
            stored_time(t("2026-12-07T20:01:47Z")),
            "2026-12-07T20:01:47.000Z"
        );
        assert_eq!(
            stored_time(t("2026-12-07T20:01:47.5Z")),
            "2026-12-07T20:01:47.500Z"
        );
        // Below a millisecond is cut, not rounded up into the next second.
        assert_eq!(
            stored_time(t("2026-12-07T20:01:47.9999Z")),
            "2026-12-07T20:01:47.999Z"
        );
        let (a, b) = (t("2026-12-07T20:01:47Z"), t("2026-12-07T20:01:47.25Z"));
        assert!(stored_time(a) < stored_time(b));
    }
}

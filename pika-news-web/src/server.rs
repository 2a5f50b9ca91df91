//! [`serve`]: the whole service on a listener the caller bound, until the
//! caller says stop. Binding the port, reading the process environment and
//! catching signals are the caller's (the `pika-news` binary's) business.

use std::collections::BTreeMap;
use std::future::Future;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::router;
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::scheduler::Scheduler;
use crate::state::AppState;

/// Why the service could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The database could not be opened or migrated.
    #[error("opening the database {path}")]
    Database {
        /// The database file.
        path: camino::Utf8PathBuf,
        /// Why.
        #[source]
        source: DbError,
    },
    /// Serving HTTP failed.
    #[error("serving HTTP failed")]
    Http(#[source] std::io::Error),
}

/// Serves `config`'s repository on `listener` (the HTTP API, the page and the
/// scheduler running its lanes) until `shutdown` completes; then stops taking
/// requests, cancels running lanes (their process groups are stopped and the
/// lanes recorded as cancelled) and returns.
///
/// `lane_env` is the environment lanes' children are filtered from: the
/// caller passes it in, this library never reads the process's own.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    lane_env: BTreeMap<String, String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let db = Db::open(&config.database).map_err(|source| ServeError::Database {
        path: config.database.clone(),
        source,
    })?;
    let repo = config.forge_repo;
    let scheduler = Scheduler::new(db.clone(), repo.clone(), lane_env);
    let state = AppState::new(db, repo.pikaci_state_root.clone(), config.public_read)
        .with_waker(scheduler.waker())
        .with_data_dir(repo.data_dir.clone())
        .with_repo(repo.repo.clone(), repo.default_branch.clone());
    let stop_lanes = CancellationToken::new();
    let scheduler_task = tokio::spawn(scheduler.run(stop_lanes.clone()));
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, state_root = %repo.pikaci_state_root, "pika-news listening");
    }
    let served = axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    tracing::info!("shutting down");
    stop_lanes.cancel();
    let _ = scheduler_task.await;
    served.map_err(ServeError::Http)
}

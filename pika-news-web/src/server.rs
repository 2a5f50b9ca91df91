//! [`serve`]: the whole service on a listener the caller bound, until the
//! caller says stop. Binding the port, reading the process environment and
//! catching signals are the caller's (the `pika-news` binary's) business.

use std::collections::BTreeMap;
use std::future::Future;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::db::{Db, DbError};
use crate::http::{default_workers, serve_router};
use crate::routes::router;
use crate::sandbox::{self, LaneAccounts, SandboxError};
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
    /// Lanes cannot run as the configured user, or the service's files
    /// cannot be made private.
    #[error("sandboxing lanes")]
    Sandbox(#[from] SandboxError),
    /// Serving HTTP failed.
    #[error("serving HTTP failed")]
    Http(#[source] std::io::Error),
}

/// The open-file limit (soft) of this process, if it can be read.
fn open_file_limit() -> Option<u64> {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .ok()
        .map(|(soft, _)| soft)
}

/// Serves `config`'s repository on `listener` (the HTTP API, the page and the
/// scheduler running its lanes) until `shutdown` completes; then stops taking
/// requests, ends live log streams, cancels running lanes (their process
/// groups are stopped and the lanes recorded as cancelled) and returns.
///
/// Requests are answered on one single-threaded runtime per core (see
/// `http`); the caller's runtime accepts connections and runs the scheduler.
///
/// `lane_env` is the environment lanes' children are filtered from: the
/// caller passes it in, this library never reads the process's own.
///
/// With `[lanes] run_as_user` (or `uid_range`), the lane user is looked up
/// (the range checked) and the service's files are made private first (see
/// [`sandbox::files`]); a user that does not exist, or is root or the
/// service's own, is an error before anything is served. Connections are served under `[http]`'s limits, with at most
/// as many connections as the open-file limit leaves room for.
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
    let accounts = LaneAccounts::from_settings(&config.lanes)?;
    if let Some(accounts) = &accounts {
        sandbox::prepare_service_files(&config, accounts)?;
        match accounts {
            LaneAccounts::Shared(user) => tracing::info!(
                user = user.name(),
                uid = user.uid(),
                "lanes run as their own user"
            ),
            LaneAccounts::Pool(_) => tracing::info!(
                uid_range = %config.lanes.uid_range.map(|r| r.to_string()).unwrap_or_default(),
                gid = accounts.gid(),
                "each lane runs as a uid of its own"
            ),
        }
    }
    let cap = config.http.connection_cap(open_file_limit());
    let limits = config.http.clone();
    let repo = config.forge_repo;
    let scheduler = Scheduler::new(db.clone(), repo.clone(), lane_env)
        .lane_accounts(accounts.map(std::sync::Arc::new))
        .lane_path(config.lanes.lane_path.clone())
        .supervise_lanes(config.lanes.supervisor.clone())
        .lease_secs(config.lanes.lease_secs)
        .lane_cgroups(crate::lanes::cgroup::at_start(&config.lanes.limits));
    let secure_cookies = config.public_url.as_ref().is_some_and(|u| u.is_https());
    let state = AppState::new(db, repo.pikaci_state_root.clone(), config.public_read)
        .with_secure_cookies(secure_cookies)
        .with_waker(scheduler.waker())
        .with_data_dir(repo.data_dir.clone())
        .with_repo(repo.repo.clone(), repo.default_branch.clone())
        .with_commit_url(repo.commit_url.clone())
        .with_forge(crate::branch_actions::Forge::new(
            repo.canonical_git_dir.as_std_path(),
            &repo.default_branch,
            repo.merge_policy,
        ))
        .with_logins(crate::login::Logins::new(
            pika_news_core::login::LoginPolicy {
                public_url: config.public_url.as_ref().map(|u| u.as_str().to_owned()),
            },
            config.bootstrap_admin_npubs.iter().copied(),
        ));
    // The post-receive hook (`pika-news hooks install`) writes a file in the
    // git folder after each push: the scheduler looks at once instead of at
    // its next poll.
    let push_watch = match pika_news_core::forge::WakeWatch::new(
        repo.canonical_git_dir.as_std_path(),
    ) {
        Ok(mut watch) => {
            let waker = scheduler.waker();
            Some(tokio::spawn(async move {
                while watch.pushed().await.is_ok() {
                    waker.notify_one();
                }
            }))
        }
        Err(e) => {
            tracing::warn!(error = %e, "pushes are seen at the next poll: the git folder cannot be watched");
            None
        }
    };
    let stop_lanes = CancellationToken::new();
    let scheduler_task = tokio::spawn(scheduler.run(stop_lanes.clone()));
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, state_root = %repo.pikaci_state_root, max_connections = cap, "pika-news listening");
    }
    // Live streams never end by themselves: closing them lets the graceful
    // shutdown finish (their clients reconnect with Last-Event-ID).
    let live = state.live.clone();
    let shutdown = async move {
        shutdown.await;
        live.close();
    };
    let served = serve_router(
        listener,
        router(state),
        limits,
        cap,
        default_workers(),
        shutdown,
    )
    .await;
    tracing::info!("shutting down");
    stop_lanes.cancel();
    if let Some(watch) = push_watch {
        watch.abort();
    }
    let _ = scheduler_task.await;
    served.map_err(ServeError::Http)
}

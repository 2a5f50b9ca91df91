//! pika-news: the forge CI service over pikaci, served over HTTP.
//!
//! What the service decides (configuration, database, scheduler, lanes,
//! sandbox, login) is `pika_news_core`'s; it is re-exported here under the
//! same module names. This crate serves it:
//!
//! - [`Config`]: `pika-news.toml`, with the repository's pikaci state root
//!   derived by [`pikaci_state_root`] and its [`DataDir`].
//! - [`db::Db`]: SQLite (tokens, branches, suites, lanes), migrated on open,
//!   with typed rows ([`db::types`]) and a [`clock::Clock`] for every time it stores.
//! - [`scheduler::Scheduler`]: branch heads become suites and lanes, which it
//!   claims and runs ([`lanes`]).
//! - [`routes`]: the route list of the API and the pages ([`ROUTES`], each
//!   with its [`Access`]), the [`router`] and the OpenAPI document made from
//!   it; [`api`]: the JSON handlers and the [`api::dto`] shapes every answer
//!   has. The pages are templates beside them.
//! - [`reads`]: the read model ([`Reads`]): every read of runs and logs and
//!   every cache of them, kept fresh by a watch of the disk.
//! - [`live`]: a running job's log as Server-Sent Events, one shared
//!   follower per log however many clients watch it.
//! - [`branch_actions::Forge`]: merging and closing branches through the
//!   server, under the configured merge policy.
//! - [`ph_session::PhSession`]: the session file upstream's `ph` client reads,
//!   made from a pika-news token.
//! - [`serve`]: all of it on a listener the caller bound, until the caller's
//!   shutdown future completes. The library never binds a port, reads the
//!   process environment or catches signals.
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use pika_news_web::{AppState, db::Db, router};
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(&camino::Utf8PathBuf::try_from(dir.path().join("news.sqlite"))?)?;
//! let app = router(AppState::new(db, "/srv/git/pikaci-state/sledtools-pika", false));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! # drop((app, listener));
//! # Ok(())
//! # }
//! ```

pub mod api;
mod auth;
mod error;
pub mod http;
mod links;
pub mod live;
mod pages;
mod query;
pub mod reads;
pub mod routes;
mod rows;
mod server;
mod session;
mod state;

// The service's logic without HTTP lives in pika-news-core; these names
// keep its modules where this crate's code and its embedders found them.
pub use pika_news_core::{branch_actions, clock, db, lanes, ph_session, sandbox, scheduler};
use pika_news_core::{config, data_dir, login};

pub use api::RouteDoc;
pub use auth::{AdminAccess, COOKIE, ReadAccess, WriteAccess};
pub use config::{
    Config, ConfigError, DEFAULT_BIND_ADDRESS, DEFAULT_BIND_PORT, DEFAULT_BRANCH, ForgeRepo,
    pikaci_state_root,
};
pub use data_dir::DataDir;
pub use error::ApiError;
pub use login::Logins;
pub use reads::{HeavyReads, MAX_SERVED_RECORD_BYTES, Reads};
pub use routes::{Access, ROUTES, openapi_document, router};
pub use server::{ServeError, serve};
pub use state::{AppState, StateFields};

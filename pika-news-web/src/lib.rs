//! pika-news: the forge CI service over pikaci, served over HTTP.
//!
//! What the service decides (configuration, database, scheduler, lanes,
//! sandbox, login, merges) is `pika_news_core`'s, used from there. This
//! crate serves it, and exports only what its binary and an embedder need:
//!
//! - [`serve`]: the whole service on a listener the caller bound, under
//!   its [`Config`] (with [`ConfigError`], the defaults and
//!   [`pikaci_state_root`]), until the caller's shutdown future completes.
//!   The library never binds a port, reads the process environment or
//!   catches signals.
//! - [`AppState`]: what every handler shares, built from a database and a
//!   state root with its `with_*` methods ([`HeavyReads`],
//!   [`LiveSettings`]).
//! - [`router`]: the API and the pages as one `axum` router over an
//!   [`AppState`], to serve with [`serve_router`] or mount in another
//!   server; made from the route list, [`ROUTES`] (each a [`RouteDoc`]
//!   with its [`Access`]), which [`openapi_document`] describes.
//! - [`MAX_SERVED_RECORD_BYTES`] and [`ANSWER_BUDGET`]: the bounds of what
//!   an answer holds.
//!
//! Inside, private: `api` (the JSON handlers), the pages, `reads` (the read
//! model: every read of runs and logs and every cache of them), `live`
//! (running logs as Server-Sent Events), `http` (connections), and the
//! leaves both handler trees share (`auth`, `links`, `query`, `session`,
//! `rows`).
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use pika_news_core::db::Db;
//! use pika_news_web::{AppState, router};
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(&camino::Utf8PathBuf::try_from(dir.path().join("news.sqlite"))?)?;
//! let app = router(AppState::new(db, "/srv/git/pikaci-state/sledtools-pika", false));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! # drop((app, listener));
//! # Ok(())
//! # }
//! ```

mod api;
mod auth;
mod error;
mod http;
mod links;
mod live;
mod pages;
mod query;
mod reads;
mod routes;
mod rows;
mod server;
mod session;
mod state;

// What this crate's code reaches in pika-news-core by the names it has
// always used; none of it is exported.
use pika_news_core::{branch_actions, config, data_dir, db, lanes, login, sandbox, scheduler};

pub use api::{Answer, Method, Param, ParamIn, ParamKind, RouteDoc};
pub use config::{
    Config, ConfigError, DEFAULT_BIND_ADDRESS, DEFAULT_BIND_PORT, DEFAULT_BRANCH, ForgeRepo,
    pikaci_state_root,
};
pub use http::serve_router;
pub use live::Settings as LiveSettings;
pub use reads::encoded::ANSWER_BUDGET;
pub use reads::{HeavyReads, MAX_SERVED_RECORD_BYTES};
pub use routes::{Access, ROUTES, openapi_document, router, served_paths};
pub use server::{ServeError, serve};
pub use state::AppState;

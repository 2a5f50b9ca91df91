//! pika-news: the forge CI service over pikaci.
//!
//! - [`Config`]: `pika-news.toml`, with the repository's pikaci state root
//!   derived by [`pikaci_state_root`].
//! - [`db::Db`]: SQLite (tokens, branches, suites, lanes), migrated on open.
//! - [`router`]: every HTTP route over an [`AppState`]; the caller binds and
//!   serves it, so tests drive it with `oneshot` and no socket.
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

mod api;
mod auth;
mod config;
pub mod db;
mod error;
pub mod lanes;
pub mod scheduler;
mod state;

pub use api::{ROUTES, RouteDoc, openapi_document, router};
pub use auth::{COOKIE, ReadAccess, WriteAccess};
pub use config::{
    Config, ConfigError, DEFAULT_BIND_ADDRESS, DEFAULT_BIND_PORT, ForgeRepo, pikaci_state_root,
};
pub use error::ApiError;
pub use state::AppState;

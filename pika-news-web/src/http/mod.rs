//! Serving HTTP/1.1 connections: hyper's connection driver with a
//! header-read timeout, an idle keep-alive timeout and a connection cap
//! ([`HttpLimits`]), so sockets that never finish a request cannot hold the
//! server's file descriptors.
//!
//! - [`limits`]: `[http]` of `pika-news.toml` (read with the configuration,
//!   in pika-news-core).
//! - `conn`: the accept loop, the connection registry (cap, eviction of
//!   connections with no request in flight) and each connection's watchdog.
//! - `workers`: one single-threaded runtime per core, which connections are
//!   driven on.

mod conn;
mod workers;

/// `[http]` of `pika-news.toml` (pika-news-core's, where the configuration is read).
pub(crate) use pika_news_core::http_limits as limits;

pub use conn::serve_router;
pub(crate) use workers::default_workers;

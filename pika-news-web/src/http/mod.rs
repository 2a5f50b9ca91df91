//! Serving HTTP/1.1 connections: hyper's connection driver with a
//! header-read timeout, an idle keep-alive timeout and a connection cap
//! ([`HttpLimits`]), so sockets that never finish a request cannot hold the
//! server's file descriptors.
//!
//! - [`limits`]: `[http]` of `pika-news.toml`.
//! - `conn`: the accept loop, the connection registry (cap, eviction of
//!   connections with no request in flight) and each connection's watchdog.

mod conn;
pub mod limits;

pub use conn::serve_router;
pub use limits::HttpLimits;

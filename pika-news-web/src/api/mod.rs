//! The HTTP API and the page.
//!
//! - [`routes`]: THE route list ([`ROUTES`]), with each route's [`Access`];
//!   [`router`] and [`openapi_document`] are both made from it.
//! - `openapi`: what a route's entry says ([`RouteDoc`]) and the document
//!   made from a list of them.
//! - [`dto`]: every JSON shape the API answers with.
//! - One module per family of handlers: `pikaci` (runs and logs), `branch`,
//!   `lane_runs`, `meta` (health, 404), `raw` (a log streamed whole or by
//!   byte range, over `http_range` and `file_body`), `stream` (a log as
//!   Server-Sent Events, over [`crate::live`]). The HTML pages are in
//!   `crate::pages`.
//! - [`compat`]: what upstream pika's `ph` client calls (its lane actions,
//!   nightly runs, wake, who-am-I), in its shapes.

mod branch;
pub mod compat;
pub mod dto;
mod file_body;
mod http_range;
mod lane_runs;
mod meta;
mod openapi;
mod pikaci;
pub(crate) mod query;
mod raw;
pub mod routes;
mod stream;
mod timed_body;

pub use openapi::{Answer, Method, Param, ParamIn, ParamKind, RouteDoc};
pub(crate) use pikaci::load_run;
pub use routes::{Access, ROUTES, openapi_document, router};

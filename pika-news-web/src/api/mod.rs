//! The HTTP API and the page.
//!
//! - [`routes`]: THE route list ([`ROUTES`]), with each route's [`Access`];
//!   [`router`] and [`openapi_document`] are both made from it.
//! - `openapi`: what a route's entry says ([`RouteDoc`]) and the document
//!   made from a list of them.
//! - [`dto`]: every JSON shape the API answers with.
//! - [`heavy`] and [`encoded`]: bounded memory per request (a permit per
//!   large read, log text capped by its encoded size); `json_errors`: every
//!   error, axum's own rejections included, as `{"error": ...}`.
//! - One module per family of handlers: `pikaci` (runs and logs), `branch`,
//!   `lane_runs`, `meta` (health, 404), `raw` (a log streamed whole or by
//!   byte range, over `http_range` and `file_body`), `stream` (a log as
//!   Server-Sent Events, over [`crate::live`]). The HTML pages are in
//!   `crate::pages`.
//! - [`compat`]: what upstream pika's `ph` client calls (its lane actions,
//!   nightly runs, wake, who-am-I), in its shapes.

mod answer_paths;
mod branch;
mod byte_budget;
pub mod compat;
pub mod dto;
pub mod encoded;
mod file_body;
pub mod heavy;
mod http_range;
mod json_errors;
mod lane_runs;
mod login;
mod meta;
mod openapi;
mod pikaci;
mod raw;
pub mod record_cache;
pub mod routes;
mod run_loader;
mod stream;
pub mod tail_cache;
mod timed_body;

// The query parsers are shared with the pages; `super::query` still names them.
pub(crate) use crate::query;
pub(crate) use branch::{branch_by_id_or_404, branch_or_404, nightly_by_id_or_404, nightly_or_404};
pub use heavy::HeavyReads;
pub use openapi::{Answer, Method, Param, ParamIn, ParamKind, RouteDoc};
pub use routes::{Access, ROUTES, openapi_document, router};
pub use run_loader::MAX_SERVED_RECORD_BYTES;
pub(crate) use run_loader::{blocking, load_run};

//! The HTTP API's handlers and answers. The route list (of these handlers
//! and the pages') is `crate::routes`; the pages are `crate::pages`, and
//! neither imports the other.
//!
//! - `openapi`: what a route's entry says ([`RouteDoc`]) and the document
//!   made from a list of them.
//! - [`dto`]: every JSON shape the API answers with.
//! - [`heavy`] and [`encoded`]: bounded memory per request (a permit per
//!   large read, log text capped by its encoded size); `json_errors`: every
//!   error, axum's own rejections included, as `{"error": ...}`.
//! - One module per family of handlers: `pikaci` (runs and logs), `branch`,
//!   `lane_runs`, `meta` (health, 404), `raw` (a log streamed whole or by
//!   byte range, over `http_range` and `file_body`), `stream` (a log as
//!   Server-Sent Events, over [`crate::live`]).
//! - [`compat`]: what upstream pika's `ph` client calls (its lane actions,
//!   nightly runs, wake, who-am-I), in its shapes.

mod answer_paths;
pub(crate) mod branch;
mod byte_budget;
pub mod compat;
pub mod dto;
pub mod encoded;
mod file_body;
pub mod heavy;
mod http_range;
pub(crate) mod json_errors;
pub(crate) mod lane_runs;
pub(crate) mod lane_view;
pub(crate) mod lists;
pub(crate) mod login;
pub(crate) mod meta;
pub(crate) mod openapi;
pub(crate) mod pikaci;
pub(crate) mod raw;
pub mod record_cache;
mod run_loader;
pub(crate) mod stream;
pub(crate) mod suite_reruns;
pub mod tail_cache;
mod timed_body;

// The query parsers are shared with the pages; `super::query` still names them.
pub(crate) use crate::query;
pub use heavy::HeavyReads;
pub use openapi::{Answer, Method, Param, ParamIn, ParamKind, RouteDoc};
pub use run_loader::MAX_SERVED_RECORD_BYTES;
pub(crate) use run_loader::{blocking, load_run};

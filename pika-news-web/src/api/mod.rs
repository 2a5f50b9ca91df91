//! The HTTP API's handlers and answers. The route list (of these handlers
//! and the pages') is `crate::routes`; the pages are `crate::pages`, and
//! neither imports the other.
//!
//! - `openapi`: what a route's entry says ([`RouteDoc`]) and the document
//!   made from a list of them.
//! - [`dto`]: every JSON shape the API answers with.
//! - `answer`: JSON answers, whose body holds a heavy-read permit until
//!   sent; `json_errors`: every error, axum's own rejections included, as
//!   `{"error": ...}`.
//! - One module per family of handlers: `pikaci` (runs and logs), `branch`,
//!   `lane_runs`, `meta` (health, 404), `raw` (a log streamed whole or by
//!   byte range, over `http_range` and `file_body`), `stream` (a log as
//!   Server-Sent Events, over [`crate::live`]). Each parses its request,
//!   asks the read model ([`crate::reads`]) and answers: no handler holds a
//!   cache or builds a path. The HTML pages are in `crate::pages`.
//! - `queue_reason`: why a queued lane waits, as every lane answer says it.
//! - [`compat`]: what upstream pika's `ph` client calls (its lane actions,
//!   nightly runs, wake, who-am-I), in its shapes.

mod answer;
pub(crate) mod branch;
pub(crate) mod compat;
pub(crate) mod dto;
mod file_body;
mod http_range;
pub(crate) mod json_errors;
pub(crate) mod lane_runs;
pub(crate) mod lane_view;
pub(crate) mod lists;
pub(crate) mod login;
pub(crate) mod meta;
pub(crate) mod openapi;
pub(crate) mod pikaci;
pub(crate) mod queue_reason;
pub(crate) mod raw;
pub(crate) mod stream;
pub(crate) mod suite_reruns;
mod timed_body;

// The query parsers are shared with the pages; `super::query` still names them.
pub(crate) use crate::query;
pub use openapi::{Answer, Method, Param, ParamIn, ParamKind, RouteDoc};

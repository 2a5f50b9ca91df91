//! The HTTP API and the page.
//!
//! - [`routes`]: THE route list ([`ROUTES`]), with each route's [`Access`];
//!   [`router`] and [`openapi_document`] are both made from it.
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
//! - [`compat`]: what upstream pika's `ph` client calls (its lane actions,
//!   nightly runs, wake, who-am-I), in its shapes.

mod answer;
mod branch;
pub mod compat;
pub mod dto;
mod file_body;
mod http_range;
mod json_errors;
mod lane_runs;
mod login;
mod meta;
mod openapi;
mod pikaci;
pub(crate) mod query;
mod raw;
pub mod routes;
mod stream;
mod timed_body;

pub use crate::reads::encoded;
pub(crate) use branch::{branch_by_id_or_404, branch_or_404, nightly_by_id_or_404, nightly_or_404};
pub use openapi::{Answer, Method, Param, ParamIn, ParamKind, RouteDoc};
pub(crate) use raw::{kind_word, raw_url};
pub use routes::{Access, ROUTES, openapi_document, router};

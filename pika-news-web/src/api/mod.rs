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
//!   `lane_runs`, `page`, `meta` (health, 404).
//! - [`compat`]: what upstream pika's `ph` client calls (its lane actions,
//!   nightly runs, wake, who-am-I), in its shapes.

mod branch;
pub mod compat;
pub mod dto;
pub mod encoded;
pub mod heavy;
mod json_errors;
mod lane_runs;
mod meta;
mod openapi;
mod page;
mod pikaci;
mod query;
pub mod routes;

pub use heavy::HeavyReads;
pub use openapi::{Answer, Method, Param, ParamIn, ParamKind, RouteDoc};
pub use pikaci::MAX_SERVED_RECORD_BYTES;
pub use routes::{Access, ROUTES, openapi_document, router};

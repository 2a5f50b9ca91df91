//! The HTTP API and the page.
//!
//! - [`routes`]: THE route list ([`ROUTES`]), with each route's [`Access`];
//!   [`router`] and [`openapi_document`] are both made from it.
//! - `openapi`: what a route's entry says ([`RouteDoc`]) and the document
//!   made from a list of them.
//! - [`dto`]: every JSON shape the API answers with.
//! - One module per family of handlers: `pikaci` (runs and logs), `branch`,
//!   `lane_runs`, `page`, `meta` (health, 404).
//! - [`compat`]: what upstream pika's `ph` client calls (its lane actions,
//!   nightly runs, wake, who-am-I), in its shapes.

mod branch;
pub mod compat;
pub mod dto;
mod lane_runs;
mod meta;
mod openapi;
mod page;
mod pikaci;
mod query;
pub mod routes;

pub use openapi::{Answer, Method, Param, ParamIn, ParamKind, RouteDoc};
pub use routes::{Access, ROUTES, openapi_document, router};

//! The HTTP API and the page.
//!
//! - [`routes`]: THE route list ([`ROUTES`]), with each route's [`Access`];
//!   [`router`] and [`openapi_document`] are both made from it.
//! - [`dto`]: every JSON shape the API answers with.
//! - One module per family of handlers: `pikaci` (runs and logs), `branch`,
//!   `lane_runs`, `page`, `meta` (health, the document, 404).

mod branch;
pub mod dto;
mod lane_runs;
mod meta;
mod openapi;
mod page;
mod pikaci;
mod query;
pub mod routes;

pub use openapi::openapi_document;
pub use routes::{Access, Answer, Method, Param, ParamIn, ParamKind, ROUTES, RouteDoc, router};

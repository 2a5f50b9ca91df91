//! The HTTP routes, declared once: the same list builds the router and the
//! OpenAPI document served at `/news/api/openapi.json`.

mod branch;
mod lanes;
mod openapi;
mod page;
mod pikaci;
mod query;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub use openapi::{RouteDoc, openapi_document};

/// Declares every route with its documentation, building both [`ROUTES`]
/// and the router from one list.
macro_rules! routes {
    ($( $method:ident $path:literal => $handler:path { role: $role:literal, summary: $summary:literal, params: [$($param:literal),*] } )*) => {
        /// Every route: method, path, who may call it, what it does.
        pub const ROUTES: &[RouteDoc] = &[
            $( RouteDoc { method: stringify!($method), path: $path, role: $role, summary: $summary, params: &[$($param),*] }, )*
        ];

        fn add_routes(router: Router<AppState>) -> Router<AppState> {
            router $( .route($path, $method($handler)) )*
        }
    };
}

openapi::declare_routes!();

/// Every route of pika-news, over `state`. The caller binds and serves it.
pub fn router(state: AppState) -> Router {
    add_routes(Router::new())
        .fallback(not_found)
        .with_state(state)
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn openapi_json() -> axum::Json<serde_json::Value> {
    axum::Json(openapi_document())
}

async fn not_found() -> crate::error::ApiError {
    crate::error::ApiError::NotFound("no such route".into())
}

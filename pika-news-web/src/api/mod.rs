//! The HTTP routes.

mod branch;
mod lanes;
mod page;
mod pikaci;
mod query;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// Every route of pika-news, over `state`. The caller binds and serves it.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/news/api/forge/pikaci/run/{run_id}", get(pikaci::run))
        .route("/news/api/forge/pikaci/logs/{run_id}", get(pikaci::logs))
        .route("/news/api/forge/branch/resolve", get(branch::resolve))
        .route("/news/api/forge/branch/{branch_id}", get(branch::detail))
        .route("/news/api/forge/branch/{branch_id}/logs", get(branch::logs))
        .route(
            "/news/api/forge/lane/{lane_run_id}/{action}",
            post(lanes::action),
        )
        .route("/news/api/forge/wake", post(lanes::wake))
        .route("/news/branch/{branch_id}/ci", get(page::branch_ci))
        .fallback(not_found)
        .with_state(state)
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn not_found() -> crate::error::ApiError {
    crate::error::ApiError::NotFound("no such route".into())
}

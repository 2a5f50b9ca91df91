//! The routes about the service itself: liveness, the OpenAPI document's
//! own schema, and the answer for a route that does not exist.

use axum::Json;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};

use super::dto::Health;
use crate::error::ApiError;

/// `GET /health`.
pub(crate) async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// `GET /`: the front door is pika-git's, `/git/`.
pub(crate) async fn root() -> impl axum::response::IntoResponse {
    axum::response::Redirect::permanent("/git/")
}

/// Any other path.
pub(crate) async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// The OpenAPI document, as its own answer's schema: an object with the
/// three keys every OpenAPI 3.1 document of this service has.
pub(crate) struct OpenApiDocument;

impl utoipa::PartialSchema for OpenApiDocument {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some("An OpenAPI 3.1 document"))
            .property("openapi", ObjectBuilder::new().schema_type(Type::String))
            .property("info", ObjectBuilder::new().schema_type(Type::Object))
            .property("paths", ObjectBuilder::new().schema_type(Type::Object))
            .required("openapi")
            .required("info")
            .required("paths")
            .into()
    }
}

impl utoipa::ToSchema for OpenApiDocument {}

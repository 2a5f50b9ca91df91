//! [`ApiError`]: every failure of an HTTP handler, as `{"error": "..."}` with
//! the right status. Causes are logged; clients never see a server path.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use pikaci_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::{DbError, Role};
use crate::reads::ReadError;

/// Every error: `{"error": "..."}`, a message without server paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ErrorBody {
    /// What went wrong.
    pub error: String,
}

/// What went wrong with a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (invalid id, kind or range).
    #[error("{0}")]
    BadRequest(String),
    /// No token, or a token that is not valid.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// A login refused, saying which check failed.
    #[error("{0}")]
    LoginRefused(String),
    /// The token is valid but its role is too low (the role it needs).
    #[error("this needs a token with the {0} role")]
    Forbidden(Role),
    /// A form posted from another site (its `Origin` or `Sec-Fetch-Site`).
    #[error("a form of another site cannot post here")]
    CrossSite,
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The change does not fit the current state (e.g. failing a finished lane).
    #[error("{0}")]
    Conflict(String),
    /// Something failed on the server; the message is safe to show.
    #[error("{0}")]
    Internal(String),
    /// Every permit for large reads is taken and none freed in time.
    #[error("the server is busy with other large reads; try again in a moment")]
    Busy,
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::LoginRefused(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::CrossSite => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.to_string(),
        };
        let mut response = (self.status(), Json(body)).into_response();
        if matches!(self, Self::Unauthorized) {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if matches!(self, Self::Busy) {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::InvalidInput { .. } => Self::BadRequest(e.to_string()),
            StoreError::RunNotFound { .. }
            | StoreError::JobNotFound { .. }
            | StoreError::LogNotFound { .. } => Self::NotFound(e.to_string()),
            // Store messages name runs, jobs and layout files, never absolute paths.
            StoreError::Corrupt { .. } => {
                tracing::error!(error = %e, "corrupt run data");
                Self::Internal(e.to_string())
            }
            StoreError::Io { what, source } => {
                tracing::error!(error = %source, what = %what, "state root i/o failed");
                Self::Internal(format!("{what} failed"))
            }
        }
    }
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Store(e) => e.into(),
            ReadError::Busy => Self::Busy,
            ReadError::RecordTooLarge { .. } => Self::Internal(e.to_string()),
            ReadError::Task(source) => Self::Internal(format!("a read task failed: {source}")),
            // Logged where it failed, with the lane run.
            ReadError::LaneLog { .. } => Self::Internal(e.to_string()),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::NotFound { .. } => Self::NotFound(e.to_string()),
            DbError::Conflict(_) => Self::Conflict(e.to_string()),
            DbError::Exists { .. } => Self::BadRequest(e.to_string()),
            DbError::Sqlite(_) | DbError::Task(_) => {
                tracing::error!(error = %e, "database failure");
                Self::Internal("the database could not answer".into())
            }
        }
    }
}

impl From<crate::branch_actions::BranchActionError> for ApiError {
    fn from(e: crate::branch_actions::BranchActionError) -> Self {
        use crate::branch_actions::BranchActionError as E;
        match e {
            E::NotFound(_) => Self::NotFound(e.to_string()),
            E::NotOpen { .. } | E::DefaultBranch(_) | E::Unseen { .. } | E::Refused(_) => {
                Self::Conflict(e.to_string())
            }
            E::Forge(f) if f.is_conflict() => Self::Conflict(f.to_string()),
            E::Forge(pika_news_core::forge::ForgeError::InvalidName(_)) => {
                Self::Conflict(e.to_string())
            }
            E::Db(d) => d.into(),
            E::Forge(_) | E::Task(_) => {
                // git's own words may name the repository's path: logged only.
                tracing::error!(error = %e, "a merge or close failed");
                Self::Internal("the repository could not be changed; nothing was".into())
            }
        }
    }
}

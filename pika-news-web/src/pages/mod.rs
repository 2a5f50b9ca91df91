//! The HTML pages, rendered on the server so they work without a script; the
//! script only makes them live.
//!
//! - [`ci`]: `/news/ci`, every branch with its latest suite.
//! - [`branch`]: `/news/branch/{id}/ci`, a branch's latest suite (summary
//!   line, lanes, jobs, buttons) and its earlier ones.
//! - [`lane`]: `/news/branch/{id}/ci/lane/{lane_run_id}`, a lane run and the
//!   log viewer ([`viewer`], over a [`window`] of a log with line numbers
//!   from the [`lines`] index and colours from [`ansi`]).
//! - [`session`]: the `?token=` → cookie exchange, who is looking
//!   ([`session::Viewer`]), and the lane forms' CSRF check.
//! - [`html`], [`format`], [`summary`]: the frame and the small pieces.

mod ansi;
pub(crate) mod branch;
pub(crate) mod ci;
mod format;
mod html;
pub(crate) mod lane;
mod lines;
pub(crate) mod session;
mod summary;
mod viewer;
mod window;

pub(crate) use lines::LineIndex;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};

use crate::error::ApiError;

/// A page's path parameters, or a JSON 400 (axum's own rejection is text).
pub(crate) fn path_params<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(t)| t)
        .map_err(|_| ApiError::BadRequest("invalid path".into()))
}

/// A page's query string, or a JSON 400.
pub(crate) fn query_params<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t)
        .map_err(|_| ApiError::BadRequest("invalid query string".into()))
}

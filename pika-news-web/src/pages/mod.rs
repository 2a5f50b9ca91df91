//! The HTML pages, rendered on the server so they work without a script; the
//! script only makes them live.
//!
//! - [`ci`]: `/news/ci`, every branch with its latest suite.
//! - [`branch`]: `/news/branch/{id}/ci`, a branch's latest suite (summary
//!   line, lanes, jobs, buttons) and its earlier ones.
//! - [`lane`]: `/news/branch/{id}/ci/lane/{lane_run_id}`, a lane run and the
//!   log viewer ([`viewer`], over a [`window`] of a log read by
//!   [`log_source`] through the read model, with line numbers from its
//!   `lines` index and colours from [`ansi`]).
//! - [`session`]: the page cookie, who is looking ([`session::Viewer`]),
//!   and the lane forms' CSRF check; [`sign_in`]: the form that exchanges a
//!   token for the cookie (the only way to get it).
//! - [`nightly`]: nightly runs: listed on `/news/ci`, `/news/nightly/{id}`
//!   (the lanes open on the same lane page, under the nightly run).
//! - [`html`], [`format`](mod@format), [`summary`]: the frame and the small pieces.

mod ansi;
pub(crate) mod branch;
pub(crate) mod ci;
mod format;
mod html;
pub(crate) mod lane;
mod log_source;
pub(crate) mod nightly;
pub(crate) mod session;
pub(crate) mod sign_in;
mod summary;
mod viewer;
mod window;

/// Line numbers of log positions: the read model's, which keeps them.
use crate::reads::lines;

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

/// Where a suite's lanes are shown: a branch's page or a nightly run's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// `/news/branch/{id}/ci`.
    Branch(crate::db::BranchId),
    /// `/news/nightly/{id}`.
    Nightly(crate::db::NightlyRunId),
}

impl Scope {
    /// The page's address.
    pub(crate) fn page(self) -> String {
        match self {
            Self::Branch(b) => format!("/news/branch/{b}/ci"),
            Self::Nightly(n) => format!("/news/nightly/{n}"),
        }
    }

    /// The address of one of its lanes' page.
    pub(crate) fn lane(self, lane: crate::db::LaneRunId) -> String {
        format!("{}/lane/{lane}", self.page())
    }
}

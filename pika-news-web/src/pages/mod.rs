//! The HTML pages, rendered on the server so they work without a script; the
//! script only makes them live.
//!
//! - [`ci`]: `/news/ci`, every branch with its latest suite.
//! - [`branch`]: `/news/branch/{id}/ci`, a branch's latest suite (summary
//!   line, lanes, jobs, buttons) and its earlier ones.
//! - [`lane`]: `/news/branch/{id}/ci/lane/{lane_run_id}`, a lane run and the
//!   log viewer ([`viewer`], over a [`window`] of a log read by
//!   [`log_source`] through the read model, with line numbers from its
//!   `lines` index, colours and links from [`ansi`], and foldable
//!   [`sections`] made by the CIs' [`markers`]).
//! - [`job_graph`]: a pikaci lane's jobs in layers by what they need, on
//!   its lane page.
//! - [`branch_actions`]: the branch's Merge and Close buttons.
//! - [`sign_in`]: the form that exchanges a token for the page cookie (the
//!   only way to get it; who is looking is `crate::session`).
//! - [`errors`]: the error answers of page requests (`links::page_request`)
//!   as pages: 404 and 403 with breadcrumbs, 401 as the sign-in form.
//! - [`nightly`]: nightly runs: listed on `/news/ci`, `/news/nightly/{id}`
//!   (the lanes open on the same lane page, under the nightly run).
//! - [`commit`]: a commit's link and the head's subject and author.
//! - [`failure`]: why a failed lane failed and the end of its output, on
//!   the branch page and the overview.
//! - [`html`], [`format`](mod@format), [`summary`]: the frame and the small pieces.
//!
//! Every page is a `maud` template, checked when the crate compiles: the
//! engine escapes every value put in, so no page escapes by hand. Every
//! address a page prints comes from `crate::links`, under the prefix the
//! page was asked for under (`/git` or `/news`).

mod ansi;
pub(crate) mod branch;
pub(crate) mod branch_actions;
pub(crate) mod ci;
mod commit;
pub(crate) mod errors;
mod failure;
mod format;
mod html;
mod job_graph;
pub(crate) mod lane;
mod log_source;
mod markers;
pub(crate) mod nightly;
mod sections;
pub(crate) mod sign_in;
mod summary;
mod viewer;
mod window;

/// Line numbers of log positions: the read model's, which keeps them.
use crate::reads::lines;

use crate::links::Prefix;

/// Where a suite's lanes are shown: a branch's page or a nightly run's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// `/news/branch/{id}/ci`.
    Branch(crate::db::BranchId),
    /// `/news/nightly/{id}`.
    Nightly(crate::db::NightlyRunId),
}

impl From<crate::db::LaneScope> for Scope {
    fn from(s: crate::db::LaneScope) -> Self {
        match s {
            crate::db::LaneScope::Branch(b) => Self::Branch(b),
            crate::db::LaneScope::Nightly(n) => Self::Nightly(n),
        }
    }
}

impl Scope {
    /// The page's address, under `prefix`.
    pub(crate) fn page(self, prefix: Prefix) -> String {
        match self {
            Self::Branch(b) => prefix.branch_page(b),
            Self::Nightly(n) => prefix.nightly_page(n),
        }
    }

    /// The address of one of its lanes' page, under `prefix`.
    pub(crate) fn lane(self, prefix: Prefix, lane: crate::db::LaneRunId) -> String {
        format!("{}/lane/{lane}", self.page(prefix))
    }
}

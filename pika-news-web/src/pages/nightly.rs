//! Nightly runs on the pages: suites of the default branch's head made on
//! the manifest's schedule. `/news/ci` lists the newest;
//! `GET /news/nightly/{nightly_run_id}` shows one (its summary line and
//! lanes), and its lanes open at `/news/nightly/{id}/lane/{lane_run_id}`.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use maud::{Markup, html};

use super::Scope;
use super::branch::{lanes_table, suite_actions};
use super::format::{stored_time_element, time_element};
use super::html::{Crumb, Page, short_head, status};
use super::summary::{summarize, summary_line, summary_text};
use crate::db::{NightlyRun, Suite};
use crate::error::ApiError;
use crate::links::Prefix;
use crate::query;
use crate::rows::nightly_or_404;
use crate::session::Viewer;
use crate::state::AppState;

/// How many nightly runs `/news/ci` lists.
const LISTED: u32 = 10;

/// A nightly run as a suite, to add it up like any other.
fn as_suite(n: &NightlyRun) -> Suite {
    Suite {
        id: n.suite_id,
        head: n.head.clone(),
        status: n.status,
        message: n.summary.clone(),
        created_at: n.created_at.clone(),
        lane_source: n.lane_source,
        lanes: n.lanes.iter().map(|l| l.run.clone()).collect(),
    }
}

/// One nightly run's row of the `/news/ci` table, and whether it is still
/// running.
fn nightly_row(prefix: Prefix, n: &NightlyRun, now: Timestamp) -> (Markup, bool) {
    let s = summarize(&as_suite(n), now);
    let html = html! {
        tr data-nightly=(n.id) {
            td { (status(n.status.as_str())) }
            td { a href=(prefix.nightly_page(n.id)) { "#" (n.id) } " " span.muted { (n.source_ref) } }
            td { (stored_time_element(Some(&n.scheduled_for), now, &n.scheduled_for)) }
            td { (s.counts_html()) }
            td { @if let Some(t) = s.started { (time_element(t, now)) } }
            td.dur { (s.times_text().join(" · ")) }
            td { (short_head(&n.head)) }
        }
    };
    (html, s.active())
}

/// The nightly runs table of `/news/ci` (empty when there are none), and
/// whether one is still running.
pub(crate) async fn table(
    state: &AppState,
    prefix: Prefix,
    now: Timestamp,
) -> Result<(Markup, bool), ApiError> {
    let runs = state.db.nightlies(LISTED).await?;
    if runs.is_empty() {
        return Ok((html! {}, false));
    }
    let (rows, actives): (Vec<Markup>, Vec<bool>) =
        runs.iter().map(|n| nightly_row(prefix, n, now)).unzip();
    let html = html! {
        h2 { "Nightly runs" }
        table.grid #nightly {
            thead { tr {
                th { "Status" } th { "Run" } th { "Scheduled for" } th { "Lanes" }
                th { "Started" } th { "Duration" } th { "Head" }
            } }
            tbody { @for row in &rows { (row) } }
        }
    };
    Ok((html, actives.contains(&true)))
}

/// `GET /news/nightly/{nightly_run_id}`: a nightly run's summary line and lanes.
pub(crate) async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let n = nightly_or_404(&state, &query::path_params(id)?).await?;
    let id = n.id;
    let now = state.db.clock().now();
    let suite = as_suite(&n);
    let s = summarize(&suite, now);
    let scope = Scope::Nightly(id);
    let label = format!("Nightly run #{id}");
    let lanes = if suite.lanes.is_empty() {
        html! { div.empty { "This nightly run has no lanes." } }
    } else {
        let back = scope.page(viewer.prefix);
        lanes_table(&state, &viewer, scope, &suite, now, &back).await
    };
    let body = html! {
        h1 { "Nightly run #" (id) " " (status(n.status.as_str())) }
        p.sub {
            span { (n.source_ref) }
            span { "head " (short_head(&n.head)) }
            span { "scheduled for " (stored_time_element(Some(&n.scheduled_for), now, &n.scheduled_for)) }
        }
        div.summary #summary title=(summary_text(&label, &suite, &s)) {
            (summary_line(&label, &suite, &s))
        }
        @if let Some(m) = &n.summary { p.sub { (m) } }
        @if let Some(source) = n.lane_source {
            p.muted.lane-source { "Lanes from " (source.describe()) "." }
        }
        (suite_actions(&viewer, scope, &suite))
        (lanes)
    };
    Ok(Page {
        prefix: viewer.prefix,
        title: format!("nightly #{id} · CI"),
        crumbs: vec![Crumb::here(format!("nightly #{id}"))],
        body,
        active: s.active(),
    }
    .into_response())
}

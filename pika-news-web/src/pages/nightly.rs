//! Nightly runs on the pages: suites of the default branch's head made on
//! the manifest's schedule. `/news/ci` lists the newest;
//! `GET /news/nightly/{nightly_run_id}` shows one (its summary line and
//! lanes), and its lanes open at `/news/nightly/{id}/lane/{lane_run_id}`.

use std::fmt::Write as _;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;

use super::Scope;
use super::branch::lanes_table;
use super::format::{escape, stored_time_element, time_element};
use super::html::{Page, short_head, status};
use super::session::Viewer;
use super::summary::{summarize, summary_line, summary_text};
use crate::api::nightly_or_404;
use crate::db::{NightlyRun, Suite};
use crate::error::ApiError;
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
        lane_source: None,
        lanes: n.lanes.iter().map(|l| l.run.clone()).collect(),
    }
}

/// The nightly runs table of `/news/ci` (empty when there are none), and
/// whether one is still running.
pub(crate) async fn table(state: &AppState, now: Timestamp) -> Result<(String, bool), ApiError> {
    let runs = state.db.nightlies(LISTED).await?;
    if runs.is_empty() {
        return Ok((String::new(), false));
    }
    let mut active = false;
    let mut out = String::from(
        "<h2>Nightly runs</h2><table class=grid id=nightly><thead><tr><th>Status</th><th>Run</th><th>Scheduled for</th>\
         <th>Lanes</th><th>Started</th><th>Duration</th><th>Head</th></tr></thead><tbody>",
    );
    for n in &runs {
        let suite = as_suite(n);
        let s = summarize(&suite, now);
        active |= s.active();
        let run = format!("<a href=\"/news/nightly/{}\">#{}</a>", n.id, n.id);
        let _ = write!(
            out,
            "<tr data-nightly=\"{id}\"><td>{st}</td><td>{run} <span class=muted>{source}</span></td><td>{when}</td><td>{counts}</td>\
             <td>{started}</td><td class=dur>{dur}</td><td>{head}</td></tr>",
            id = n.id,
            st = status(n.status.as_str()),
            source = escape(&n.source_ref),
            when = stored_time_element(Some(&n.scheduled_for), now, &n.scheduled_for),
            counts = s.counts_html(),
            started = s.started.map(|t| time_element(t, now)).unwrap_or_default(),
            dur = escape(&s.times_text().join(" · ")),
            head = short_head(&n.head),
        );
    }
    out.push_str("</tbody></table>");
    Ok((out, active))
}

/// `GET /news/nightly/{nightly_run_id}`: a nightly run's summary line and lanes.
pub(crate) async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let n = nightly_or_404(&state, &super::path_params(id)?).await?;
    let id = n.id;
    let now = state.db.clock().now();
    let suite = as_suite(&n);
    let s = summarize(&suite, now);
    let scope = Scope::Nightly(id);
    let label = format!("Nightly run #{id}");
    let mut body = format!(
        "<h1>Nightly run #{id} {st}</h1><p class=sub><span>{source}</span><span>head {head}</span>\
         <span>scheduled for {when}</span></p><div class=summary id=summary title=\"{title}\">{line}</div>",
        st = status(n.status.as_str()),
        source = escape(&n.source_ref),
        head = short_head(&n.head),
        when = stored_time_element(Some(&n.scheduled_for), now, &n.scheduled_for),
        title = escape(&summary_text(&label, &suite, &s)),
        line = summary_line(&label, &suite, &s),
    );
    if let Some(m) = &n.summary {
        let _ = write!(body, "<p class=sub>{}</p>", escape(m));
    }
    if suite.lanes.is_empty() {
        body.push_str("<div class=empty>This nightly run has no lanes.</div>");
    } else {
        let back = scope.page();
        body.push_str(&lanes_table(&state, &viewer, scope, &suite, now, &back).await);
    }
    Ok(Page {
        title: format!("nightly #{id} · CI"),
        crumbs: vec![(None, format!("nightly #{id}"))],
        body,
        active: s.active(),
    }
    .into_response())
}

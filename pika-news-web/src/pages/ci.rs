//! `GET /news/ci`: every branch with its latest suite: status, lane counts,
//! when it ran and for how long, and for a failed one its first failed
//! lane with why it failed and the end of its output.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use maud::{Markup, html};

use super::Scope;
use super::commit::commit_link;
use super::failure::{Failure, failure_html, lane_failure};
use super::format::time_element;
use super::html::{Page, short_head, status};
use super::summary::{replaced_by, summarize};
use crate::db::{BranchOverview, BranchState, Lane, LaneStatus};
use crate::error::ApiError;
use crate::links::Prefix;
use crate::session::Viewer;
use crate::state::AppState;

/// The first failed lane of a branch's latest suite (a rerun that replaced
/// it does not count) and why it failed.
async fn first_failure(state: &AppState, row: &BranchOverview) -> Option<(Lane, Failure)> {
    let suite = row.latest.as_ref()?;
    let lane = suite
        .lanes
        .iter()
        .find(|l| l.status == LaneStatus::Failed && replaced_by(suite, l).is_none())?;
    let run = match &lane.pikaci_run_id {
        Some(id) => state.reads.run_record(id.clone()).await.ok(),
        None => None,
    };
    let failure = lane_failure(state, lane, run.as_deref()).await?;
    Some((lane.clone(), failure))
}

/// One branch's row (with why its latest suite failed, when it did), and
/// whether its latest suite is still running.
fn branch_row(
    state: &AppState,
    prefix: Prefix,
    row: &BranchOverview,
    failure: Option<&(Lane, Failure)>,
    now: Timestamp,
) -> (Markup, bool) {
    let b = &row.branch;
    let href = prefix.branch_page(b.id);
    let name = html! {
        td.name {
            a href=(href) { (b.name) }
            @if b.state == BranchState::Closed { " " span.badge { "closed" } }
            @if let Some((lane, f)) = failure {
                div.failed-lane {
                    a href=(Scope::Branch(b.id).lane(prefix, lane.id)) { (lane.title) }
                    (failure_html(prefix, Scope::Branch(b.id), lane, f))
                }
            }
        }
    };
    let Some(suite) = &row.latest else {
        let html = html! {
            tr data-branch=(b.id) {
                td { span class="st st-none" { "none" } }
                (name)
                td.muted { "no runs" } td {} td {} td {}
                td { @if let Some(h) = &b.head { (short_head(h)) } }
            }
        };
        return (html, false);
    };
    let s = summarize(suite, now);
    let dur = match s.ran_for {
        Some(_) => s.times_text().last().cloned().unwrap_or_default(),
        None => s.times_text().join(" · "),
    };
    let html = html! {
        tr data-branch=(b.id) {
            td { (status(suite.status.as_str())) }
            (name)
            td { a href=(href) data-run=(row.runs) { "#" (row.runs) } }
            td { (s.counts_html()) }
            td {
                @match s.started {
                    Some(t) => (time_element(t, now)),
                    None => span.muted { "not yet" },
                }
            }
            td.dur { (dur) }
            td { (commit_link(state, prefix, &suite.head)) }
        }
    };
    (html, s.active())
}

/// `GET /news/ci`.
pub(crate) async fn overview(
    viewer: Viewer,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let prefix = viewer.prefix;
    let rows = state.db.branch_overview().await?;
    let now = state.db.clock().now();
    let mut failures = Vec::with_capacity(rows.len());
    for row in &rows {
        failures.push(first_failure(&state, row).await);
    }
    let (rows, actives): (Vec<Markup>, Vec<bool>) = rows
        .iter()
        .zip(&failures)
        .map(|(r, f)| branch_row(&state, prefix, r, f.as_ref(), now))
        .unzip();
    let (nightly, nightly_active) = super::nightly::table(&state, prefix, now).await?;
    let body = html! {
        h1 { "CI" }
        p.sub {
            span { (rows.len()) " branch" @if rows.len() != 1 { "es" } }
            span { "newest activity first" }
        }
        @if rows.is_empty() {
            div.empty { "No branches yet: pika-news lists a branch once it has seen it pushed." }
        } @else {
            table.grid #branches {
                thead { tr {
                    th { "Status" } th { "Branch" } th { "Latest run" } th { "Lanes" }
                    th { "Started" } th { "Duration" } th { "Head" }
                } }
                tbody { @for row in &rows { (row) } }
            }
        }
        (nightly)
    };
    Ok(Page {
        prefix,
        title: "CI · pika-news".into(),
        crumbs: Vec::new(),
        body,
        active: actives.contains(&true) || nightly_active,
    }
    .into_response())
}

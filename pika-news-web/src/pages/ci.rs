//! `GET /news/ci`: every branch with its latest suite: status, lane counts,
//! when it ran and for how long.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use maud::{Markup, html};

use super::format::time_element;
use super::html::{Page, short_head, status};
use super::summary::summarize;
use crate::db::{BranchOverview, BranchState};
use crate::error::ApiError;
use crate::links::Prefix;
use crate::session::Viewer;
use crate::state::AppState;

/// One branch's row, and whether its latest suite is still running.
fn branch_row(prefix: Prefix, row: &BranchOverview, now: Timestamp) -> (Markup, bool) {
    let b = &row.branch;
    let href = prefix.branch_page(b.id);
    let name = html! {
        td.name {
            a href=(href) { (b.name) }
            @if b.state == BranchState::Closed { " " span.badge { "closed" } }
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
            td { a href=(href) { "#" (suite.id) } }
            td { (s.counts_html()) }
            td {
                @match s.started {
                    Some(t) => (time_element(t, now)),
                    None => span.muted { "not yet" },
                }
            }
            td.dur { (dur) }
            td { (short_head(&suite.head)) }
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
    let (rows, actives): (Vec<Markup>, Vec<bool>) =
        rows.iter().map(|r| branch_row(prefix, r, now)).unzip();
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

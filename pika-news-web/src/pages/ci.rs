//! `GET /news/ci`: every branch with its latest suite: status, lane counts,
//! when it ran and for how long.

use std::fmt::Write as _;

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::format::{escape, time_element};
use super::html::{Page, short_head, status};
use super::session::Viewer;
use super::summary::summarize;
use crate::db::BranchState;
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /news/ci`.
pub(crate) async fn overview(
    _viewer: Viewer,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let rows = state.db.branch_overview().await?;
    let now = state.db.clock().now();
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>CI</h1><p class=sub><span>{} branch{}</span><span>newest activity first</span></p>",
        rows.len(),
        if rows.len() == 1 { "" } else { "es" }
    );
    let mut active = false;
    if rows.is_empty() {
        body.push_str("<div class=empty>No branches yet: pika-news lists a branch once it has seen it pushed.</div>");
    } else {
        body.push_str(
            "<table class=grid id=branches><thead><tr><th>Status</th><th>Branch</th><th>Latest run</th>\
             <th>Lanes</th><th>Started</th><th>Duration</th><th>Head</th></tr></thead><tbody>",
        );
        for row in &rows {
            let b = &row.branch;
            let href = format!("/news/branch/{}/ci", b.id);
            let closed = if b.state == BranchState::Closed {
                " <span class=badge>closed</span>"
            } else {
                ""
            };
            let _ = write!(body, "<tr data-branch=\"{}\">", b.id);
            match &row.latest {
                Some(suite) => {
                    let s = summarize(suite, now);
                    active |= s.active();
                    let started = s
                        .started
                        .map(|t| time_element(t, now))
                        .unwrap_or_else(|| "<span class=muted>not yet</span>".into());
                    let dur = match s.ran_for {
                        Some(_) => s.times_text().last().cloned().unwrap_or_default(),
                        None => s.times_text().join(" · "),
                    };
                    let _ = write!(
                        body,
                        "<td>{st}</td><td class=name><a href=\"{href}\">{name}</a>{closed}</td>\
                         <td><a href=\"{href}\">#{id}</a></td><td>{counts}</td><td>{started}</td>\
                         <td class=dur>{dur}</td><td>{head}</td>",
                        st = status(suite.status.as_str()),
                        name = escape(&b.name),
                        id = suite.id,
                        counts = s.counts_html(),
                        dur = escape(&dur),
                        head = short_head(&suite.head),
                    );
                }
                None => {
                    let _ = write!(
                        body,
                        "<td><span class=\"st st-none\">none</span></td><td class=name><a href=\"{href}\">{name}</a>{closed}</td>\
                         <td class=muted>no runs</td><td></td><td></td><td></td><td>{head}</td>",
                        name = escape(&b.name),
                        head = b.head.as_deref().map(short_head).unwrap_or_default(),
                    );
                }
            }
            body.push_str("</tr>");
        }
        body.push_str("</tbody></table>");
    }
    let (nightly, nightly_active) = super::nightly::table(&state, now).await?;
    body.push_str(&nightly);
    active |= nightly_active;
    Ok(Page {
        title: "CI · pika-news".into(),
        crumbs: Vec::new(),
        body,
        active,
    }
    .into_response())
}

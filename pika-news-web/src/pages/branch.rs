//! `GET /news/branch/{branch_id}/ci`: the summary line of the latest suite,
//! its lanes and their jobs with durations, the lane buttons for a viewer
//! who may use them, and the branch's older suites.

use std::fmt::Write as _;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use pikaci_core::RunRecord;

use super::Scope;
use super::format::{between, duration, escape, job_took, query_value, stored_time_element};
use super::html::{Page, short_head, status, status_dot};
use super::session::Viewer;
use super::summary::{lane_duration, replaced_by, summarize, summary_line, summary_text};
use crate::api::branch_or_404;
use crate::db::{Lane, LaneRunId, LaneStatus, Suite};
use crate::error::ApiError;
use crate::state::AppState;

/// The lane buttons a viewer with a write token sees: plain forms.
pub(crate) fn lane_actions(viewer: &Viewer, lane: &Lane, back: &str) -> String {
    let Some(csrf) = &viewer.csrf else {
        return String::new();
    };
    let actions: &[(&str, &str)] = match lane.status {
        LaneStatus::Queued | LaneStatus::Running => &[("fail", "Fail")],
        LaneStatus::Passed => &[("rerun", "Rerun")],
        LaneStatus::Failed | LaneStatus::Cancelled => &[("rerun", "Rerun"), ("requeue", "Requeue")],
    };
    let mut out = String::from("<span class=actions>");
    for (action, label) in actions {
        let _ = write!(
            out,
            "<form method=post action=\"/news/api/forge/lane/{id}/{action}\">\
             <input type=hidden name=csrf value=\"{csrf}\"><input type=hidden name=back value=\"{back}\">\
             <button type=submit{danger} data-action=\"{action}\" title=\"{title}\">{label}</button></form> ",
            id = lane.id,
            csrf = escape(csrf),
            back = escape(back),
            danger = if *action == "fail" {
                " class=danger"
            } else {
                ""
            },
            title = match *action {
                "rerun" => "Queue a new run of this lane",
                "requeue" => "Put this lane run back in the queue",
                _ => "Mark this lane run failed",
            },
        );
    }
    out.push_str("</span>");
    out
}

/// The chips of a lane's jobs, each a link to its log, with its duration;
/// jobs planned but not started yet as `queued`.
fn job_chips(scope: Scope, lane: &Lane, run: &RunRecord, now: Timestamp) -> String {
    let mut out = String::from("<span class=chips>");
    for job in &run.jobs {
        let _ = write!(
            out,
            "<a class=chip href=\"{href}?job={q}\" data-job=\"{id}\" title=\"{desc}\">{dot}{id} <span class=\"dur muted\">{took}</span></a>",
            href = scope.lane(lane.id),
            q = query_value(job.id.as_str()),
            id = escape(job.id.as_str()),
            desc = escape(&job.description),
            dot = status_dot(job.status.as_str()),
            took = job_took(job, now),
        );
    }
    for planned in run.planned_jobs.iter().filter(|p| run.job(p).is_none()) {
        let _ = write!(
            out,
            "<span class=chip data-job=\"{id}\">{dot}{id}</span>",
            id = escape(planned.as_str()),
            dot = status_dot("queued"),
        );
    }
    out.push_str("</span>");
    out
}

/// The lanes of `suite` as a table (its lane buttons come back to `back`).
pub(crate) async fn lanes_table(
    state: &AppState,
    viewer: &Viewer,
    scope: Scope,
    suite: &Suite,
    now: Timestamp,
    back: &str,
) -> String {
    let mut out = String::from(
        "<table class=grid id=lanes><thead><tr><th>Status</th><th>Lane</th><th>Jobs</th><th>Duration</th>\
         <th>Started</th><th>pikaci run</th><th></th></tr></thead><tbody>",
    );
    for lane in &suite.lanes {
        let replaced = replaced_by(suite, lane);
        out.push_str(&lane_row(state, viewer, scope, lane, replaced, now, back).await);
    }
    out.push_str("</tbody></table>");
    out
}

/// One lane as a table row.
async fn lane_row(
    state: &AppState,
    viewer: &Viewer,
    scope: Scope,
    lane: &Lane,
    replaced: Option<LaneRunId>,
    now: Timestamp,
    back: &str,
) -> String {
    let run = match &lane.pikaci_run_id {
        Some(id) => state.reads.run_record(id.clone()).await.ok(),
        None => None,
    };
    let jobs = match &run {
        Some(r) => job_chips(scope, lane, r, now),
        None if lane.pikaci_run_id.is_some() => "<span class=muted>run not found</span>".into(),
        None => String::new(),
    };
    let took = match (lane.status, lane_duration(lane, now)) {
        (_, Some(d)) => duration(d),
        (LaneStatus::Queued, None) => super::format::parse_time(&lane.created_at)
            .map(|c| format!("waiting {}", between(c, now)))
            .unwrap_or_default(),
        _ => String::new(),
    };
    let kind = lane
        .failure_kind
        .map(|k| format!(" <span class=muted>· {}</span>", k.as_str()))
        .unwrap_or_default();
    let message = lane
        .message
        .as_deref()
        .map(|m| format!("<div class=muted>{}</div>", escape(m)))
        .unwrap_or_default();
    format!(
        "<tr data-lane=\"{id}\"{replaced_class}><td>{st}{kind}</td><td class=name><a href=\"{href}\">{title}</a> <span class=\"muted mono\">{lane_id}</span>{message}{replaced_note}</td>\
         <td>{jobs}</td><td class=dur>{took}</td><td>{started}</td><td>{run}</td><td>{actions}</td></tr>",
        id = lane.id,
        replaced_class = if replaced.is_some() {
            " class=replaced"
        } else {
            ""
        },
        replaced_note = replaced
            .map(|r| format!("<div class=muted>replaced by its rerun, #{r}</div>"))
            .unwrap_or_default(),
        st = status(lane.status.as_str()),
        href = scope.lane(lane.id),
        title = escape(&lane.title),
        lane_id = escape(&lane.lane),
        started = stored_time_element(lane.started_at.as_deref(), now, ""),
        run = lane
            .pikaci_run_id
            .as_ref()
            .map(|r| format!("<code>{}</code>", escape(r.as_str())))
            .unwrap_or_default(),
        actions = lane_actions(viewer, lane, back),
    )
}

fn history(scope: Scope, suites: &[Suite], now: Timestamp) -> String {
    let mut out = String::from(
        "<h2>Earlier runs</h2><table class=grid id=history><thead><tr><th>Run</th><th>Status</th><th>Lanes</th>\
         <th>Head</th><th>Times</th><th>Queued</th></tr></thead><tbody>",
    );
    for suite in suites {
        let s = summarize(suite, now);
        let mut lanes = String::new();
        for lane in &suite.lanes {
            let _ = write!(
                lanes,
                "<div>{} <a href=\"{}\">{}</a></div>",
                status_dot(lane.status.as_str()),
                scope.lane(lane.id),
                escape(&lane.title)
            );
        }
        let _ = write!(
            out,
            "<tr id=\"suite-{id}\"><td>#{id}</td><td>{st}</td><td>{counts}<details><summary>{n} lane{plural}</summary>{lanes}</details></td>\
             <td>{head}</td><td class=dur>{times}</td><td>{when}</td></tr>",
            id = suite.id,
            st = status(suite.status.as_str()),
            counts = s.counts_html(),
            n = suite.lanes.len(),
            plural = if suite.lanes.len() == 1 { "" } else { "s" },
            head = short_head(&suite.head),
            times = escape(&s.times_text().join(" · ")),
            when = stored_time_element(Some(&suite.created_at), now, &suite.created_at),
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// `GET /news/branch/{branch_id}/ci`.
pub(crate) async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    branch_id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let branch = branch_or_404(&state, &super::path_params(branch_id)?).await?;
    let id = branch.id;
    let suites = state.db.suites(id).await?;
    let now = state.db.clock().now();
    let back = format!("/news/branch/{id}/ci");
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>{name} <span class=badge>{st}</span></h1><p class=sub><span>CI for branch {name}</span><span>head {head}</span><span>updated {updated}</span></p>",
        name = escape(&branch.name),
        st = branch.state.as_str(),
        head = branch
            .head
            .as_deref()
            .map(short_head)
            .unwrap_or_else(|| "-".into()),
        updated = stored_time_element(Some(&branch.updated_at), now, &branch.updated_at),
    );
    let mut active = false;
    match suites.split_first() {
        None => body.push_str("<div class=empty>No runs for this branch yet.</div>"),
        Some((latest, older)) => {
            let s = summarize(latest, now);
            active = s.active();
            let _ = write!(
                body,
                "<div class=summary id=summary title=\"{}\">{}</div>",
                escape(&summary_text(
                    &format!("Latest run #{}", latest.id),
                    latest,
                    &s
                )),
                summary_line(&format!("Latest run #{}", latest.id), latest, &s)
            );
            if let Some(m) = &latest.message {
                let _ = write!(body, "<div class=note>{}</div>", escape(m));
            }
            let _ = write!(
                body,
                "<h2 id=\"suite-{id}\">Run #{id} <span class=muted>· head {head}</span></h2>",
                id = latest.id,
                head = short_head(&latest.head)
            );
            if latest.lanes.is_empty() {
                body.push_str("<div class=empty>This run has no lanes.</div>");
            } else {
                body.push_str(
                    &lanes_table(&state, &viewer, Scope::Branch(id), latest, now, &back).await,
                );
            }
            if !older.is_empty() {
                body.push_str(&history(Scope::Branch(id), older, now));
            }
        }
    }
    Ok(Page {
        title: format!("{} · CI", branch.name),
        crumbs: vec![(None, branch.name.clone())],
        body,
        active,
    }
    .into_response())
}

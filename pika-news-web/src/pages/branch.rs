//! `GET /news/branch/{branch_id}/ci`: the summary line of the latest suite,
//! its lanes and their jobs with durations, the lane buttons for a viewer
//! who may use them, and the branch's older suites.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use maud::{Markup, html};
use pikaci_core::RunRecord;

use super::Scope;
use super::format::{between, duration, job_took, parse_time, stored_time_element};
use super::html::{Crumb, Page, queue_reason, short_head, status, status_dot};
use super::summary::{lane_duration, replaced_by, summarize, summary_line, summary_text};
use crate::db::{Branch, Lane, LaneRunId, LaneStatus, Suite};
use crate::error::ApiError;
use crate::links::{Prefix, query_value};
use crate::query;
use crate::rows::branch_or_404;
use crate::session::Viewer;
use crate::state::AppState;

/// A lane button: the action it posts, its label and its tooltip.
struct LaneButton {
    action: &'static str,
    label: &'static str,
    title: &'static str,
}

const FAIL: LaneButton = LaneButton {
    action: "fail",
    label: "Fail",
    title: "Mark this lane run failed",
};
const RERUN: LaneButton = LaneButton {
    action: "rerun",
    label: "Rerun",
    title: "Queue a new run of this lane",
};
const REQUEUE: LaneButton = LaneButton {
    action: "requeue",
    label: "Requeue",
    title: "Put this lane run back in the queue",
};

/// The lane buttons a viewer with a write token sees: plain forms.
pub(crate) fn lane_actions(viewer: &Viewer, lane: &Lane, back: &str) -> Markup {
    let Some(csrf) = &viewer.csrf else {
        return html! {};
    };
    let buttons: &[LaneButton] = match lane.status {
        LaneStatus::Queued | LaneStatus::Running => &[FAIL],
        LaneStatus::Passed => &[RERUN],
        LaneStatus::Failed | LaneStatus::Cancelled => &[RERUN, REQUEUE],
    };
    html! {
        span.actions {
            @for b in buttons {
                form method="post" action=(viewer.prefix.lane_action(lane.id, b.action)) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="back" value=(back);
                    button.danger[b.action == "fail"] type="submit" data-action=(b.action) title=(b.title) {
                        (b.label)
                    }
                }
                " "
            }
        }
    }
}

/// The suite's rerun buttons a viewer with a write token sees, once its
/// lanes are all finished: "Re-run failed lanes" when one failed, and
/// "Re-run all"; each posts to the suite rerun route (new attempts in the
/// same suite) and comes back to the page.
pub(crate) fn suite_actions(viewer: &Viewer, scope: Scope, suite: &Suite) -> Markup {
    let Some(csrf) = &viewer.csrf else {
        return html! {};
    };
    let current: Vec<&Lane> = suite
        .lanes
        .iter()
        .filter(|l| replaced_by(suite, l).is_none())
        .collect();
    let going = current
        .iter()
        .any(|l| matches!(l.status, LaneStatus::Queued | LaneStatus::Running));
    if current.is_empty() || going {
        return html! {};
    }
    let failed = current.iter().any(|l| l.status == LaneStatus::Failed);
    let action = match scope {
        Scope::Branch(b) => format!("{}/branch/{b}/ci/rerun", viewer.prefix.as_str()),
        Scope::Nightly(n) => format!("{}/nightly/{n}/rerun", viewer.prefix.as_str()),
    };
    let back = scope.page(viewer.prefix);
    html! {
        div.actions.suite-actions {
            @if failed {
                form method="post" action={ (action) "?failed=1" } {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="back" value=(back);
                    button type="submit" data-action="rerun-failed" title="Run the failed lanes again, as new attempts of this run" { "Re-run failed lanes" }
                }
                " "
            }
            form method="post" action=(action) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="back" value=(back);
                button type="submit" data-action="rerun-all" title="Run every lane again, as new attempts of this run" { "Re-run all" }
            }
        }
    }
}

/// The chips of a lane's jobs, each a link to its log, with its duration;
/// jobs planned but not started yet as `queued`.
fn job_chips(prefix: Prefix, scope: Scope, lane: &Lane, run: &RunRecord, now: Timestamp) -> Markup {
    let href = scope.lane(prefix, lane.id);
    html! {
        span.chips {
            @for job in &run.jobs {
                a.chip href={ (href) "?job=" (query_value(job.id.as_str())) }
                    data-job=(job.id) title=(job.description) {
                    (status_dot(job.status.as_str())) (job.id) " "
                    span class="dur muted" { (job_took(job, now)) }
                }
            }
            @for planned in run.planned_jobs.iter().filter(|p| run.job(p).is_none()) {
                span.chip data-job=(planned) { (status_dot("queued")) (planned) }
            }
        }
    }
}

/// The lanes of `suite` as a table (its lane buttons come back to `back`).
pub(crate) async fn lanes_table(
    state: &AppState,
    viewer: &Viewer,
    scope: Scope,
    suite: &Suite,
    now: Timestamp,
    back: &str,
) -> Markup {
    let mut rows = Vec::with_capacity(suite.lanes.len());
    for lane in &suite.lanes {
        let run = match &lane.pikaci_run_id {
            Some(id) => state.reads.run_record(id.clone()).await.ok(),
            None => None,
        };
        let replaced = replaced_by(suite, lane);
        rows.push(lane_row(
            viewer,
            scope,
            lane,
            run.as_deref(),
            replaced,
            now,
            back,
        ));
    }
    html! {
        table.grid #lanes {
            thead { tr {
                th { "Status" } th { "Lane" } th { "Jobs" } th { "Duration" }
                th { "Started" } th { "pikaci run" } th {}
            } }
            tbody { @for row in rows { (row) } }
        }
    }
}

/// How long a lane ran, or how long it has waited in the queue.
fn lane_took(lane: &Lane, now: Timestamp) -> String {
    match (lane.status, lane_duration(lane, now)) {
        (_, Some(d)) => duration(d),
        (LaneStatus::Queued, None) => parse_time(&lane.created_at)
            .map(|c| format!("waiting {}", between(c, now)))
            .unwrap_or_default(),
        _ => String::new(),
    }
}

/// One lane as a table row, with its run's record when it could be read.
fn lane_row(
    viewer: &Viewer,
    scope: Scope,
    lane: &Lane,
    run: Option<&RunRecord>,
    replaced: Option<LaneRunId>,
    now: Timestamp,
    back: &str,
) -> Markup {
    html! {
        tr data-lane=(lane.id) class=[replaced.map(|_| "replaced")] {
            td {
                (status(lane.status.as_str()))
                @if let Some(k) = lane.failure_kind { " " span.muted { "· " (k.as_str()) } }
            }
            td.name {
                a href=(scope.lane(viewer.prefix, lane.id)) { (lane.title) }
                " " span class="muted mono" { (lane.lane) }
                @if let Some(m) = &lane.message { div.muted { (m) } }
                (queue_reason(viewer.prefix, lane))
                @if let Some(r) = replaced { div.muted { "replaced by its rerun, #" (r) } }
            }
            td {
                @match run {
                    Some(r) => (job_chips(viewer.prefix, scope, lane, r, now)),
                    None if lane.pikaci_run_id.is_some() => span.muted { "run not found" },
                    None => {},
                }
            }
            td.dur { (lane_took(lane, now)) }
            td { (stored_time_element(lane.started_at.as_deref(), now, "")) }
            td { @if let Some(r) = &lane.pikaci_run_id { code { (r) } } }
            td { (lane_actions(viewer, lane, back)) }
        }
    }
}

fn history(prefix: Prefix, scope: Scope, suites: &[Suite], now: Timestamp) -> Markup {
    html! {
        h2 { "Earlier runs" }
        table.grid #history {
            thead { tr {
                th { "Run" } th { "Status" } th { "Lanes" } th { "Head" } th { "Times" } th { "Queued" }
            } }
            tbody {
                @for suite in suites {
                    @let s = summarize(suite, now);
                    tr id={ "suite-" (suite.id) } {
                        td { "#" (suite.id) }
                        td { (status(suite.status.as_str())) }
                        td {
                            (s.counts_html())
                            details {
                                summary { (suite.lanes.len()) " lane" @if suite.lanes.len() != 1 { "s" } }
                                @for lane in &suite.lanes {
                                    div {
                                        (status_dot(lane.status.as_str())) " "
                                        a href=(scope.lane(prefix, lane.id)) { (lane.title) }
                                    }
                                }
                            }
                        }
                        td { (short_head(&suite.head)) }
                        td.dur { (s.times_text().join(" · ")) }
                        td { (stored_time_element(Some(&suite.created_at), now, &suite.created_at)) }
                    }
                }
            }
        }
    }
}

/// The page's heading: the branch's name, state, head and last update.
fn heading(branch: &Branch, now: Timestamp) -> Markup {
    html! {
        h1 { (branch.name) " " span.badge { (branch.state.as_str()) } }
        p.sub {
            span { "CI for branch " (branch.name) }
            span { "head " @match &branch.head { Some(h) => (short_head(h)), None => "-" } }
            span { "updated " (stored_time_element(Some(&branch.updated_at), now, &branch.updated_at)) }
        }
    }
}

/// The branch's actions (merge, close), between the heading and the runs:
/// their forms for a viewer who may post them on a server that merges
/// (`pages/branch_actions.rs`), or what became of a merged or closed branch.
fn branch_actions(state: &AppState, viewer: &Viewer, branch: &Branch) -> Markup {
    let Some(forge) = &state.forge else {
        return html! {};
    };
    super::branch_actions::branch_actions(super::branch_actions::BranchActions {
        prefix: viewer.prefix,
        branch_id: branch.id,
        state: branch.state,
        merge_commit: branch.merge_commit.as_deref(),
        csrf: viewer.csrf.as_deref(),
        policy: forge.policy(),
    })
}

/// The latest suite: its summary line, note, heading and lanes.
async fn latest_suite(
    state: &AppState,
    viewer: &Viewer,
    scope: Scope,
    latest: &Suite,
    now: Timestamp,
) -> Markup {
    let s = summarize(latest, now);
    let label = format!("Latest run #{}", latest.id);
    let back = scope.page(viewer.prefix);
    let lanes = if latest.lanes.is_empty() {
        html! { div.empty { "This run has no lanes." } }
    } else {
        lanes_table(state, viewer, scope, latest, now, &back).await
    };
    html! {
        div.summary #summary title=(summary_text(&label, latest, &s)) {
            (summary_line(&label, latest, &s))
        }
        @if let Some(m) = &latest.message { div.note { (m) } }
        h2 id={ "suite-" (latest.id) } {
            "Run #" (latest.id) " " span.muted { "· head " (short_head(&latest.head)) }
        }
        @if let Some(source) = latest.lane_source {
            p.muted.lane-source { "Lanes from " (source.describe()) "." }
        }
        (suite_actions(viewer, scope, latest))
        (lanes)
    }
}

/// `GET /news/branch/{branch_id}/ci`.
pub(crate) async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    branch_id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let branch = branch_or_404(&state, &query::path_params(branch_id)?).await?;
    let scope = Scope::Branch(branch.id);
    let suites = state.db.suites(branch.id).await?;
    let now = state.db.clock().now();
    let (runs, active) = match suites.split_first() {
        None => (
            html! { div.empty { "No runs for this branch yet." } },
            false,
        ),
        Some((latest, older)) => {
            let latest_html = latest_suite(&state, &viewer, scope, latest, now).await;
            let html = html! {
                (latest_html)
                @if !older.is_empty() { (history(viewer.prefix, scope, older, now)) }
            };
            (html, summarize(latest, now).active())
        }
    };
    let body = html! {
        (heading(&branch, now))
        (branch_actions(&state, &viewer, &branch))
        (runs)
    };
    Ok(Page {
        prefix: viewer.prefix,
        title: format!("{} · CI", branch.name),
        crumbs: vec![Crumb::here(branch.name.clone())],
        body,
        active,
    }
    .into_response())
}

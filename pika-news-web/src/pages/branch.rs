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
use super::commit::{commit_link, head_context};
use super::failure::{Failure, failure_html, lane_failure, lane_message};
use super::format::{between, duration, job_took, parse_time, stored_time_element};
use super::html::{Crumb, Page, queue_reason, short_head, status, status_dot};
use super::summary::{lane_duration, replaced_by, summarize, summary_line, summary_text};
use crate::db::{Branch, BranchMeta, Lane, LaneRunId, LaneStatus, Suite};
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
        // Only a lane's newest run explains the suite's failure.
        let failure = match replaced {
            None => lane_failure(state, lane, run.as_deref()).await,
            Some(_) => None,
        };
        let row = LaneRow {
            lane,
            run: run.as_deref(),
            replaced,
            failure: failure.as_ref(),
            attempt: attempt_of(suite, lane),
        };
        // Failed lanes first, in their order; then the rest in theirs.
        rows.push((failure.is_none(), lane_row(viewer, scope, row, now, back)));
    }
    rows.sort_by_key(|(rest, _)| *rest);
    let rows = rows.into_iter().map(|(_, r)| r);
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

/// What one lane's row shows.
struct LaneRow<'a> {
    lane: &'a Lane,
    /// Its run's record, when it could be read.
    run: Option<&'a RunRecord>,
    /// The rerun that replaced it in its suite.
    replaced: Option<LaneRunId>,
    /// Why it failed, when it did (and is its lane's newest run).
    failure: Option<&'a Failure>,
    /// Which run of its lane in the suite it is (1: the first).
    attempt: usize,
}

/// Which run of its lane `lane` is in `suite`: 1 for the first, 2 for the
/// first rerun...
pub(crate) fn attempt_of(suite: &Suite, lane: &Lane) -> usize {
    suite
        .lanes
        .iter()
        .filter(|l| l.lane == lane.lane && l.id.get() <= lane.id.get())
        .count()
}

/// One lane as a table row.
fn lane_row(viewer: &Viewer, scope: Scope, row: LaneRow<'_>, now: Timestamp, back: &str) -> Markup {
    let LaneRow {
        lane,
        run,
        replaced,
        failure,
        attempt,
    } = row;
    html! {
        tr data-lane=(lane.id) class=[replaced.map(|_| "replaced")] {
            td {
                (status(lane.status.as_str()))
                @if let Some(k) = lane.failure_kind { " " span.muted { "· " (k.as_str()) } }
            }
            td.name {
                a href=(scope.lane(viewer.prefix, lane.id)) { (lane.title) }
                " " span class="muted mono" { (lane.lane) }
                @if attempt > 1 { " " span.attempt.muted { "attempt " (attempt) } }
                @match failure {
                    Some(f) => (failure_html(viewer.prefix, scope, lane, f)),
                    None => @if let Some(m) = lane_message(lane, run) { div.muted { (m) } },
                }
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

/// Which attempt of itself a suite is: 1, or 1 more than the most any of
/// its lanes was rerun in it (a suite rerun is an attempt of the same run).
fn suite_attempt(suite: &Suite) -> usize {
    suite
        .lanes
        .iter()
        .map(|l| attempt_of(suite, l))
        .max()
        .unwrap_or(1)
}

/// `#7`, or `attempt 2 of #7` once the suite was rerun.
fn run_name(number: u64, suite: &Suite) -> String {
    match suite_attempt(suite) {
        1 => format!("#{number}"),
        a => format!("attempt {a} of #{number}"),
    }
}

/// The branch's earlier suites, `numbers` counting down from the newest of them.
fn history(
    prefix: Prefix,
    scope: Scope,
    suites: &[Suite],
    numbers: impl Iterator<Item = u64>,
    now: Timestamp,
) -> Markup {
    html! {
        h2 { "Earlier runs" }
        table.grid #history {
            thead { tr {
                th { "Run" } th { "Status" } th { "Lanes" } th { "Head" } th { "Times" } th { "Queued" }
            } }
            tbody {
                @for (suite, number) in suites.iter().zip(numbers) {
                    @let s = summarize(suite, now);
                    tr id={ "suite-" (suite.id) } data-run=(number) {
                        td { a href={ "#suite-" (suite.id) } title={ "suite " (suite.id) } { (run_name(number, suite)) } }
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

/// The page's heading: the branch's name, state, head (a link, with its
/// subject and author) and last update.
fn heading(
    state: &AppState,
    prefix: Prefix,
    branch: &Branch,
    meta: &BranchMeta,
    now: Timestamp,
) -> Markup {
    html! {
        h1 { (branch.name) " " span.badge { (branch.state.as_str()) } }
        p.sub {
            span { "CI for branch " (branch.name) }
            span { "head " @match &branch.head { Some(h) => (commit_link(state, prefix, h)), None => "-" } }
            span { "updated " (stored_time_element(Some(&branch.updated_at), now, &branch.updated_at)) }
        }
        @if branch.head.is_some() { (head_context(meta)) }
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
    number: u64,
    now: Timestamp,
) -> Markup {
    let s = summarize(latest, now);
    let label = format!("Latest run #{number}");
    let attempt = suite_attempt(latest);
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
        h2 id={ "suite-" (latest.id) } data-run=(number) {
            "Run #" (number)
            @if attempt > 1 { " " span.attempt { "· attempt " (attempt) " of #" (number) } }
            " " span.muted { "· head " (commit_link(state, viewer.prefix, &latest.head)) }
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
    let meta = state.db.branch_meta(branch.id).await?;
    let suites = state.db.suites(branch.id).await?;
    // The newest page of suites, newest first: numbered down from the count.
    let count = state.db.suite_count(branch.id).await?;
    let now = state.db.clock().now();
    let (runs, active) = match suites.split_first() {
        None => (
            html! { div.empty { "No runs for this branch yet." } },
            false,
        ),
        Some((latest, older)) => {
            let latest_html = latest_suite(&state, &viewer, scope, latest, count, now).await;
            let numbers = (1..count).rev();
            let html = html! {
                (latest_html)
                @if !older.is_empty() { (history(viewer.prefix, scope, older, numbers, now)) }
            };
            (html, summarize(latest, now).active())
        }
    };
    let body = html! {
        (heading(&state, viewer.prefix, &branch, &meta, now))
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

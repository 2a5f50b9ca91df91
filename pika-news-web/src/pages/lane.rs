//! `GET /news/branch/{branch_id}/ci/lane/{lane_run_id}` (and
//! `/news/nightly/{nightly_run_id}/lane/{lane_run_id}`): one lane run, its
//! jobs, and the log viewer on one of their logs (`?job=&kind=guest|host`)
//! or on the lane's own log (`?kind=lane`); `?line=N` opens the log at
//! line N instead of its end, `?timestamps=1` shows each line's time.
//!
//! A pikaci lane's page shows its run's job graph above the viewer
//! (`job_graph`). The page is made in steps: what was asked ([`Asked`]), the pane of the
//! log shown ([`LogPane`], from a job's log or the lane's), then the
//! templates around the viewer.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use maud::{Markup, html};
use pikaci_core::{JobId, JobReader, LogFile, RunId, RunRecord, RunStatus};

use super::Scope;
use super::branch::lane_actions;
use super::failure::lane_message;
use super::format::{duration, job_took, stored_time_element};
use super::html::{Crumb, Page, queue_reason, status, status_dot};
use super::job_graph::graph;
use super::lines::LogKey;
use super::log_source::{LogView, job_log_opener, lane_log_opener, read_log};
use super::summary::lane_duration;
use super::viewer::{Sources, ViewerOptions, render};
use super::window::{Window, WindowAt};
use crate::db::{BranchId, Lane, LaneRunId, LaneStatus, NightlyRunId};
use crate::error::ApiError;
use crate::links::{Prefix, job_query, kind_word, query_value};
use crate::query::{self, Params};
use crate::rows::{branch_by_id_or_404, nightly_by_id_or_404};
use crate::session::Viewer;
use crate::state::AppState;

/// Which log the viewer shows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shown {
    /// A job's log.
    Job(JobId, LogFile),
    /// The lane's own log.
    Lane,
}

/// The job the page opens when none is asked for: the page's rule
/// ([`JobReader::Page`]: a running job, else a failed one, else the API's
/// default once it has started); a run with no started job opens the lane's
/// own log.
fn job_to_open(run: &RunRecord) -> Option<&JobId> {
    run.default_job(JobReader::Page)
}

/// What the query string asks the page for.
struct Asked {
    shown: Shown,
    at: WindowAt,
    timestamps: bool,
}

impl Asked {
    /// Reads the query (`kind`, `job`, `line`, `timestamps`); a job not
    /// named is the default one of `run`, or the lane's log without a run.
    fn parse(params: &Params, run: Option<&RunRecord>) -> Result<Self, ApiError> {
        let file = match params.get("kind").map(String::as_str) {
            Some("lane") => None,
            None | Some("guest") => Some(LogFile::Guest),
            Some("host") => Some(LogFile::Host),
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "invalid kind {:?}: use guest, host or lane",
                    query::shorten(other)
                )));
            }
        };
        let asked: Option<JobId> = query::id(params, "job")?;
        let shown = match (file, asked, run.and_then(job_to_open)) {
            (None, _, _) => Shown::Lane,
            (Some(file), Some(job), _) => Shown::Job(job, file),
            (Some(file), None, Some(job)) => Shown::Job(job.clone(), file),
            (Some(_), None, None) => Shown::Lane,
        };
        let at = match query::number(params, "line")? {
            Some(n) if n > 0 => WindowAt::Line(n),
            _ => WindowAt::Tail,
        };
        let timestamps = params.get("timestamps").is_some_and(|v| v == "1");
        Ok(Self {
            shown,
            at,
            timestamps,
        })
    }
}

/// The log the viewer shows, and what goes around it.
struct LogPane {
    /// The viewer bar's title.
    title: Markup,
    /// The tabs between a job's two logs (none for the lane's log).
    tabs: Markup,
    /// Where the script reads more.
    sources: Sources,
    /// The query that names this log on the page.
    query: String,
    /// Whether the log is still being written.
    live: bool,
    /// Whether its job (or lane) failed.
    failed: bool,
    /// What was read of it; `None` when it does not exist (yet).
    view: Option<LogView>,
}

/// The pane of a job's log (`file`) in `run`.
async fn job_pane(
    state: &AppState,
    page: &LanePage,
    run: &RunRecord,
    job: &JobId,
    file: LogFile,
    at: WindowAt,
) -> Result<LogPane, ApiError> {
    let run_id = run.run_id.clone();
    let record = run.job(job);
    if record.is_none() && !run.planned_jobs.contains(job) {
        return Err(ApiError::NotFound(format!("run {run_id} has no job {job}")));
    }
    let view = match record {
        Some(_) => {
            let key = LogKey::Job(run_id.clone(), job.clone(), file);
            let open = job_log_opener(state, run_id.clone(), job.clone(), file);
            read_log(state, key, open, at).await?
        }
        None => None,
    };
    let kind = kind_word(file);
    let desc = record.map_or("", |j| j.description.as_str());
    Ok(LogPane {
        title: html! { (job) @if !desc.is_empty() { " " span.muted { "· " (desc) } } },
        tabs: html! {
            span.tabs {
                @for (k, label) in [("guest", "output"), ("host", "pikaci")] {
                    a href={ (page.href) "?" (job_query(job.as_str(), k)) } class=[(k == kind).then_some("cur")]
                        title={ (k) ".log" } { (label) }
                }
            }
        },
        sources: Sources {
            raw: Some(page.prefix.raw_url(&run_id, job, file)),
            stream: Some(page.prefix.stream_url(&run_id, job, file)),
            json: None,
        },
        query: job_query(job.as_str(), kind),
        live: record.map_or(page.lane_active, |j| j.status == RunStatus::Running),
        failed: record.is_some_and(|j| j.status == RunStatus::Failed),
        view,
    })
}

/// The pane of the lane's own log.
async fn lane_pane(state: &AppState, page: &LanePage, at: WindowAt) -> Result<LogPane, ApiError> {
    let lane = page.lane.id;
    let view = read_log(state, LogKey::Lane(lane), lane_log_opener(state, lane), at).await?;
    Ok(LogPane {
        title: html! { "Lane output " span.muted { "· what pika-news ran and saw" } },
        tabs: html! {},
        sources: Sources {
            raw: None,
            stream: None,
            json: Some(page.prefix.lane_log(lane)),
        },
        query: "kind=lane".to_owned(),
        live: page.lane_active,
        failed: page.lane.status == LaneStatus::Failed,
        view,
    })
}

/// What every step of the page knows: the lane, its run, where the page is.
struct LanePage {
    prefix: Prefix,
    lane: Lane,
    run: Option<Arc<RunRecord>>,
    /// The page's address, without a query.
    href: String,
    lane_active: bool,
    now: Timestamp,
}

/// The list of the run's jobs (and the lane's own log) beside the viewer.
fn sidebar(page: &LanePage, shown: &Shown) -> Markup {
    let href = &page.href;
    html! {
        ul.side #jobs data-swap {
            @if let Some(run) = &page.run {
                @for job in &run.jobs {
                    @let cur = matches!(shown, Shown::Job(j, _) if *j == job.id);
                    li { a href={ (href) "?job=" (query_value(job.id.as_str())) }
                        class=[cur.then_some("cur")] aria-current=[cur.then_some("page")]
                        data-job=(job.id) title=(job.description) {
                        (status_dot(job.status.as_str()))
                        span.jid { (job.id) }
                        span class="dur muted" { (job_took(job, page.now)) }
                    } }
                }
                @for planned in run.planned_jobs.iter().filter(|p| run.job(p).is_none()) {
                    li { a {
                        (status_dot("queued"))
                        span.jid { (planned) }
                        span class="dur muted" { "waiting" }
                    } }
                }
            }
            @let cur = *shown == Shown::Lane;
            li { a href={ (href) "?kind=lane" } class=[cur.then_some("cur")] aria-current=[cur.then_some("page")] {
                span.jid { "Lane output" }
                span class="dur muted" { "pika-news" }
            } }
        }
    }
}

/// The lane's heading: title, status, times, its run, and its buttons
/// (which come back to `back`).
fn lane_header(viewer: &Viewer, page: &LanePage, back: &str) -> Markup {
    let (lane, now) = (&page.lane, page.now);
    html! {
        div #lane-head data-swap {
            h1 { (lane.title) " " (status(lane.status.as_str())) }
            p.sub {
                span.mono { (lane.lane) }
                @if let Some(k) = lane.failure_kind { span { "failed: " (k.as_str()) } }
                @match (lane.status, lane_duration(lane, now)) {
                    (LaneStatus::Running, Some(d)) => span.dur { "running for " (duration(d)) },
                    (_, Some(d)) => span.dur { "ran " (duration(d)) },
                    _ => {},
                }
                span { "queued " (stored_time_element(Some(&lane.created_at), now, &lane.created_at)) }
                span { "started " (stored_time_element(lane.started_at.as_deref(), now, "not yet")) }
                @if let Some(r) = &page.run { span { "pikaci run " code { (r.run_id) } } }
                @if lane.attempts > 1 { span { "attempt " (lane.attempts) } }
                (lane_actions(viewer, lane, back))
            }
            @if let Some(m) = lane_message(lane, page.run.as_deref()) { p.sub { (m) } }
            (queue_reason(viewer.prefix, lane))
        }
    }
}

/// The viewer bar's buttons: timestamps (when the log has them), raw and
/// download (for a job's log).
fn viewer_buttons(page: &LanePage, pane: &LogPane, has_times: bool, timestamps: bool) -> Markup {
    let ts_href = format!(
        "{}?{}{}",
        page.href,
        pane.query,
        if timestamps { "" } else { "&timestamps=1" }
    );
    html! {
        @if has_times {
            a.btn #ts href=(ts_href) role="button" aria-pressed=(timestamps)
                title="Show the time each line arrived (t)" { "Timestamps" }
        } @else {
            button #ts type="button" disabled
                title="This log has no timestamps (its run was made before pikaci recorded them)" { "Timestamps" }
        }
        @if let Some(raw) = &pane.sources.raw {
            a.btn href=(raw) target="_blank" rel="noopener" { "Raw" }
            a.btn href={ (raw) "&download=1" } { "Download" }
        }
    }
}

/// The log viewer: its bar (title, tabs, search, buttons) and the log.
fn viewer_section(page: &LanePage, mut pane: LogPane, timestamps: bool) -> Markup {
    let exists = pane.view.is_some();
    let (window, times, continues) = match pane.view.take() {
        Some(v) => (v.window, v.times, v.continues),
        None => (Window::empty(), None, Vec::new()),
    };
    let opts = ViewerOptions {
        page: page.href.clone(),
        query: pane.query.clone(),
        live: pane.live,
        timestamps,
        exists,
        failed: pane.failed,
    };
    html! {
        section.viewer #viewer aria-label="log" {
            div.vbar {
                span.title { (pane.title) }
                @if pane.live { span.live #livebadge { "live" } }
                (pane.tabs)
                span.find #find hidden {
                    input type="search" #q placeholder="Search the loaded log" aria-label="Search the log" autocomplete="off";
                    button type="button" #prev title="Previous match (Shift+Enter)" { "↑" }
                    button type="button" #next title="Next match (Enter)" { "↓" }
                    output #hits {}
                }
                // The script shows these: they do nothing without it.
                button type="button" #jumperr hidden title="Scroll to the first error-looking line shown (E)" { "First error" }
                @if pane.live {
                    button type="button" #follow hidden aria-pressed="true"
                        title="Keep the newest lines in view as they arrive (f)" { "Follow" }
                }
                (viewer_buttons(page, &pane, times.is_some(), timestamps))
            }
            (render(&window, times.as_deref(), &continues, &pane.sources, &opts))
        }
    }
}

/// The keyboard help under the viewer.
fn keys() -> Markup {
    html! {
        p.keys {
            kbd { "/" } " search · " kbd { "Enter" } "/" kbd { "Shift+Enter" } " next/previous match · "
            kbd { "t" } " timestamps · " kbd { "e" } " load earlier · " kbd { "g" } "/" kbd { "G" }
            " top/end · " kbd { "f" } " follow · " kbd { "E" } " first error · a line number links to its line"
        }
    }
}

/// `GET /news/branch/{branch_id}/ci/lane/{lane_run_id}`.
pub(crate) async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (branch_id, lane_run_id) = query::path_params(path)?;
    let params = query::query_params(params)?;
    let branch_id: BranchId = query::row_id("branch id", &branch_id)?;
    let lane_id: LaneRunId = query::row_id("lane run id", &lane_run_id)?;
    let branch = branch_by_id_or_404(&state, branch_id).await?;
    let lane = state
        .db
        .lane_for_branch(branch_id, None, Some(lane_id))
        .await?
        .ok_or_else(|| {
            ApiError::NotFound(format!("branch {branch_id} has no lane run {lane_id}"))
        })?;
    let scope = Scope::Branch(branch_id);
    let parent = Crumb::link(scope.page(viewer.prefix), branch.name);
    lane_page(viewer, state, scope, parent, lane, params).await
}

/// `GET /news/nightly/{nightly_run_id}/lane/{lane_run_id}`.
pub(crate) async fn nightly_page(
    viewer: Viewer,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (nightly_id, lane_run_id) = query::path_params(path)?;
    let params = query::query_params(params)?;
    let nightly_id: NightlyRunId = query::row_id("nightly run id", &nightly_id)?;
    let lane_id: LaneRunId = query::row_id("lane run id", &lane_run_id)?;
    let nightly = nightly_by_id_or_404(&state, nightly_id).await?;
    let lane = nightly
        .lanes
        .into_iter()
        .map(|l| l.run)
        .find(|l| l.id == lane_id)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "nightly run {nightly_id} has no lane run {lane_id}"
            ))
        })?;
    let scope = Scope::Nightly(nightly_id);
    let parent = Crumb::link(scope.page(viewer.prefix), format!("nightly #{nightly_id}"));
    lane_page(viewer, state, scope, parent, lane, params).await
}

/// The lane's pikaci run, when it has one that can be read.
async fn lane_run(state: &AppState, lane: &Lane) -> Option<Arc<RunRecord>> {
    let id: RunId = lane.pikaci_run_id.clone()?;
    state.reads.run_record(id).await.ok()
}

/// The lane page of `lane`, shown under `parent` (its page and its name).
async fn lane_page(
    viewer: Viewer,
    state: AppState,
    scope: Scope,
    parent: Crumb,
    lane: Lane,
    params: Params,
) -> Result<Response, ApiError> {
    let run = lane_run(&state, &lane).await;
    let asked = Asked::parse(&params, run.as_deref())?;
    let page = LanePage {
        prefix: viewer.prefix,
        href: scope.lane(viewer.prefix, lane.id),
        lane_active: matches!(lane.status, LaneStatus::Queued | LaneStatus::Running),
        now: state.db.clock().now(),
        lane,
        run,
    };
    let pane = match (&asked.shown, &page.run) {
        (Shown::Job(job, file), Some(run)) => {
            job_pane(&state, &page, run, job, *file, asked.at).await?
        }
        (Shown::Job(..), None) => {
            return Err(ApiError::NotFound(format!(
                "lane run {} has no pikaci run to read",
                page.lane.id
            )));
        }
        (Shown::Lane, _) => lane_pane(&state, &page, asked.at).await?,
    };
    let title = match &asked.shown {
        Shown::Job(job, _) => format!("{job} · {} · {}", page.lane.title, parent.text),
        Shown::Lane => format!("lane output · {} · {}", page.lane.title, parent.text),
    };
    let active = pane.live || page.lane_active;
    let back = format!("{}?{}", page.href, pane.query);
    let body = html! {
        (lane_header(&viewer, &page, &back))
        @if let Some(run) = &page.run { (graph(run, &page.href)) }
        div.job {
            (sidebar(&page, &asked.shown))
            (viewer_section(&page, pane, asked.timestamps))
        }
        (keys())
    };
    Ok(Page {
        prefix: viewer.prefix,
        title,
        crumbs: vec![parent, Crumb::here(page.lane.title.clone())],
        body,
        active,
    }
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pikaci_core::JobRecord;

    fn run(statuses: &[(&str, RunStatus)], planned: &[&str]) -> RunRecord {
        let mut r = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        r.jobs = statuses
            .iter()
            .map(|(id, st)| {
                let mut j = JobRecord::for_test(id, r.created_at);
                j.status = *st;
                j
            })
            .collect();
        r.planned_jobs = planned.iter().map(|p| p.parse().unwrap()).collect();
        r
    }

    #[test]
    fn the_page_opens_a_running_then_a_failed_then_the_default_job() {
        let id = |r: &RunRecord| job_to_open(r).map(|j| j.as_str().to_owned());
        let r = run(
            &[
                ("a", RunStatus::Passed),
                ("b", RunStatus::Failed),
                ("c", RunStatus::Running),
            ],
            &[],
        );
        assert_eq!(id(&r).as_deref(), Some("c"));
        let r = run(&[("a", RunStatus::Passed), ("b", RunStatus::Failed)], &[]);
        assert_eq!(id(&r).as_deref(), Some("b"));
        let r = run(
            &[("a", RunStatus::Passed), ("b", RunStatus::Passed)],
            &["a", "b"],
        );
        assert_eq!(
            id(&r),
            r.default_job(JobReader::Api).map(|j| j.as_str().to_owned())
        );
        // Planned but not started: the lane's own log, not an empty job.
        let r = run(&[], &["a"]);
        assert_eq!(id(&r), None);
    }
}

//! `GET /news/branch/{branch_id}/ci/lane/{lane_run_id}` (and
//! `/news/nightly/{nightly_run_id}/lane/{lane_run_id}`): one lane run, its
//! jobs, and the log viewer on one of their logs (`?job=&kind=guest|host`)
//! or on the lane's own log (`?kind=lane`); `?line=N` opens the log at
//! line N instead of its end, `?timestamps=1` shows each line's time.

use std::fmt::Write as _;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use pikaci_core::{JobId, JobRecord, LogFile, RunId, RunRecord, RunStatus};

use super::Scope;
use super::branch::lane_actions;
use super::format::{escape, job_took, query_value, stored_time_element};
use super::html::{Page, status, status_dot};
use super::lines::LogKey;
use super::log_source::{job_log_opener, lane_log_opener, read_log};
use super::session::Viewer;
use super::summary::lane_duration;
use super::viewer::{Sources, ViewerOptions, job_query, render};
use super::window::{Window, WindowAt};
use crate::api::query::{self, Params};
use crate::api::{branch_by_id_or_404, kind_word, nightly_by_id_or_404, raw_url};
use crate::db::{BranchId, Lane, LaneRunId, LaneStatus, NightlyRunId};
use crate::error::ApiError;
use crate::state::AppState;

/// Which log the viewer shows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shown {
    /// A job's log.
    Job(JobId, LogFile),
    /// The lane's own log.
    Lane,
}

/// The job opened when none is asked for: a running one, else a failed
/// one, else the first.
fn default_job(run: &RunRecord) -> Option<&JobRecord> {
    run.jobs
        .iter()
        .find(|j| j.status == RunStatus::Running)
        .or_else(|| run.jobs.iter().find(|j| j.status == RunStatus::Failed))
        .or_else(|| run.jobs.first())
}

fn shown(params: &Params, run: Option<&RunRecord>) -> Result<Shown, ApiError> {
    let kind = params.get("kind").map(String::as_str);
    let file = match kind {
        Some("lane") => return Ok(Shown::Lane),
        None | Some("guest") => LogFile::Guest,
        Some("host") => LogFile::Host,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "invalid kind {:?}: use guest, host or lane",
                query::shorten(other)
            )));
        }
    };
    let asked: Option<JobId> = query::id(params, "job")?;
    match (asked, run.and_then(default_job)) {
        (Some(job), _) => Ok(Shown::Job(job, file)),
        (None, Some(job)) => Ok(Shown::Job(job.id.clone(), file)),
        (None, None) => Ok(Shown::Lane),
    }
}

fn window_at(params: &Params) -> Result<WindowAt, ApiError> {
    Ok(match query::number(params, "line")? {
        Some(n) if n > 0 => WindowAt::Line(n),
        _ => WindowAt::Tail,
    })
}

fn sidebar(href: &str, run: Option<&RunRecord>, shown: &Shown, now: Timestamp) -> String {
    let mut out = String::from("<ul class=side id=jobs data-swap>");
    if let Some(run) = run {
        for job in &run.jobs {
            let cur = matches!(shown, Shown::Job(j, _) if *j == job.id);
            let _ = write!(
                out,
                "<li><a href=\"{href}?job={q}\"{cur} data-job=\"{id}\" title=\"{desc}\">{dot}<span class=jid>{id}</span><span class=\"dur muted\">{took}</span></a></li>",
                q = query_value(job.id.as_str()),
                cur = if cur {
                    " class=cur aria-current=page"
                } else {
                    ""
                },
                id = escape(job.id.as_str()),
                desc = escape(&job.description),
                dot = status_dot(job.status.as_str()),
                took = job_took(job, now),
            );
        }
        for planned in run.planned_jobs.iter().filter(|p| run.job(p).is_none()) {
            let _ = write!(
                out,
                "<li><a>{dot}<span class=jid>{id}</span><span class=\"dur muted\">waiting</span></a></li>",
                id = escape(planned.as_str()),
                dot = status_dot("queued"),
            );
        }
    }
    let _ = write!(
        out,
        "<li><a href=\"{href}?kind=lane\"{cur}><span class=jid>Lane output</span><span class=\"dur muted\">pika-news</span></a></li></ul>",
        cur = if *shown == Shown::Lane {
            " class=cur aria-current=page"
        } else {
            ""
        },
    );
    out
}

fn lane_header(
    viewer: &Viewer,
    lane: &Lane,
    run: Option<&RunRecord>,
    now: Timestamp,
    back: &str,
) -> String {
    let mut out = format!(
        "<div id=lane-head data-swap><h1>{title} {st}</h1><p class=sub><span class=mono>{lane_id}</span>",
        title = escape(&lane.title),
        st = status(lane.status.as_str()),
        lane_id = escape(&lane.lane),
    );
    if let Some(k) = lane.failure_kind {
        let _ = write!(out, "<span>failed: {}</span>", k.as_str());
    }
    match (lane.status, lane_duration(lane, now)) {
        (LaneStatus::Running, Some(d)) => {
            let _ = write!(
                out,
                "<span class=dur>running for {}</span>",
                super::format::duration(d)
            );
        }
        (_, Some(d)) => {
            let _ = write!(
                out,
                "<span class=dur>ran {}</span>",
                super::format::duration(d)
            );
        }
        _ => {}
    }
    let _ = write!(
        out,
        "<span>queued {}</span><span>started {}</span>",
        stored_time_element(Some(&lane.created_at), now, &lane.created_at),
        stored_time_element(lane.started_at.as_deref(), now, "not yet"),
    );
    if let Some(r) = run {
        let _ = write!(
            out,
            "<span>pikaci run <code>{}</code></span>",
            escape(r.run_id.as_str())
        );
    }
    if lane.attempts > 1 {
        let _ = write!(out, "<span>attempt {}</span>", lane.attempts);
    }
    let _ = write!(out, "{}</p>", lane_actions(viewer, lane, back));
    if let Some(m) = &lane.message {
        let _ = write!(out, "<p class=sub>{}</p>", escape(m));
    }
    out.push_str("</div>");
    out
}

/// `GET /news/branch/{branch_id}/ci/lane/{lane_run_id}`.
pub(crate) async fn page(
    viewer: Viewer,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (branch_id, lane_run_id) = super::path_params(path)?;
    let params = super::query_params(params)?;
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
    lane_page(
        viewer,
        state,
        scope,
        (scope.page(), branch.name),
        lane,
        params,
    )
    .await
}

/// `GET /news/nightly/{nightly_run_id}/lane/{lane_run_id}`.
pub(crate) async fn nightly_page(
    viewer: Viewer,
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (nightly_id, lane_run_id) = super::path_params(path)?;
    let params = super::query_params(params)?;
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
    lane_page(
        viewer,
        state,
        scope,
        (scope.page(), format!("nightly #{nightly_id}")),
        lane,
        params,
    )
    .await
}

/// The lane page of `lane`, shown under `parent` (its page and its name).
async fn lane_page(
    viewer: Viewer,
    state: AppState,
    scope: Scope,
    parent: (String, String),
    lane: Lane,
    params: Params,
) -> Result<Response, ApiError> {
    let lane_id = lane.id;
    let at = window_at(&params)?;
    let timestamps = params.get("timestamps").is_some_and(|v| v == "1");
    let run_id: Option<RunId> = lane.pikaci_run_id.clone();
    let run = match &run_id {
        Some(id) => state.reads.run_record(id.clone()).await.ok(),
        None => None,
    };
    let shown = shown(&params, run.as_deref())?;
    let now = state.db.clock().now();
    let href = scope.lane(lane.id);
    let lane_active = matches!(lane.status, LaneStatus::Queued | LaneStatus::Running);

    let (title, tabs, sources, query_str, live, window) = match &shown {
        Shown::Job(job, file) => {
            let Some(run_id) = run_id.clone().filter(|_| run.is_some()) else {
                return Err(ApiError::NotFound(format!(
                    "lane run {lane_id} has no pikaci run to read"
                )));
            };
            let record = run.as_ref().and_then(|r| r.job(job));
            let planned = run.as_ref().is_some_and(|r| r.planned_jobs.contains(job));
            if record.is_none() && !planned {
                return Err(ApiError::NotFound(format!("run {run_id} has no job {job}")));
            }
            let live = record.map_or(lane_active, |j| j.status == RunStatus::Running);
            let kind = kind_word(*file);
            let window = if record.is_some() {
                let key = LogKey::Job(run_id.clone(), job.clone(), *file);
                read_log(
                    &state,
                    key,
                    job_log_opener(&state, run_id.clone(), job.clone(), *file),
                    at,
                )
                .await?
            } else {
                None
            };
            let q = job_query(job.as_str(), kind);
            let sources = Sources {
                raw: Some(raw_url(&run_id, job, *file)),
                stream: Some(format!("/news/api/forge/pikaci/logs/{run_id}/stream?{q}")),
                json: None,
            };
            let mut tabs = String::from("<span class=tabs>");
            for (k, label) in [("guest", "output"), ("host", "pikaci")] {
                let _ = write!(
                    tabs,
                    "<a href=\"{href}?{}\"{} title=\"{k}.log\">{label}</a>",
                    escape(&job_query(job.as_str(), k)),
                    if k == kind { " class=cur" } else { "" },
                );
            }
            tabs.push_str("</span>");
            let desc = record.map(|j| j.description.as_str()).unwrap_or("");
            let title = format!(
                "{}{}{}",
                escape(job.as_str()),
                if desc.is_empty() {
                    ""
                } else {
                    " <span class=muted>· "
                },
                if desc.is_empty() {
                    String::new()
                } else {
                    format!("{}</span>", escape(desc))
                },
            );
            (title, tabs, sources, q, live, window)
        }
        Shown::Lane => {
            let key = LogKey::Lane(lane_id);
            let window = read_log(&state, key, lane_log_opener(&state, lane_id), at).await?;
            let sources = Sources {
                raw: None,
                stream: None,
                json: Some(format!("/news/api/forge/lane/{lane_id}/log")),
            };
            (
                "Lane output <span class=muted>· what pika-news ran and saw</span>".to_owned(),
                String::new(),
                sources,
                "kind=lane".to_owned(),
                lane_active,
                window,
            )
        }
    };
    let exists = window.is_some();
    let (window, times) = match window {
        Some(v) => (v.window, v.times),
        None => (Window::empty(), None),
    };
    let opts = ViewerOptions {
        page: href.clone(),
        query: query_str.clone(),
        live,
        timestamps,
        exists,
    };
    let log = render(&window, times.as_deref(), &sources, &opts);
    let mut links = String::new();
    if let Some(raw) = &sources.raw {
        let _ = write!(
            links,
            "<a class=btn href=\"{r}\" target=_blank rel=noopener>Raw</a><a class=btn href=\"{r}&amp;download=1\">Download</a>",
            r = escape(raw)
        );
    }
    let ts_href = format!(
        "{href}?{}{}",
        query_str,
        if timestamps { "" } else { "&timestamps=1" }
    );
    let back = format!("{href}?{query_str}");
    let body = format!(
        "{head}<div class=job>{side}<section class=viewer id=viewer aria-label=\"log\"><div class=vbar>\
         <span class=title>{title}</span>{live_badge}{tabs}\
         <span class=find id=find hidden><input type=search id=q placeholder=\"Search the loaded log\" aria-label=\"Search the log\" autocomplete=off>\
         <button type=button id=prev title=\"Previous match (Shift+Enter)\">↑</button><button type=button id=next title=\"Next match (Enter)\">↓</button><output id=hits></output></span>\
         {ts_button}{links}</div>{log}</section></div>\
         <p class=keys><kbd>/</kbd> search · <kbd>Enter</kbd>/<kbd>Shift+Enter</kbd> next/previous match · <kbd>t</kbd> timestamps · <kbd>e</kbd> load earlier · <kbd>g</kbd>/<kbd>G</kbd> top/end · a line number links to its line</p>",
        head = lane_header(&viewer, &lane, run.as_deref(), now, &back),
        side = sidebar(&href, run.as_deref(), &shown, now),
        live_badge = if live {
            "<span class=live id=livebadge>live</span>"
        } else {
            ""
        },
        ts_button = if times.is_some() {
            format!(
                "<a class=btn id=ts href=\"{}\" role=button aria-pressed=\"{timestamps}\" title=\"Show the time each line arrived (t)\">Timestamps</a>",
                escape(&ts_href)
            )
        } else {
            "<button type=button id=ts disabled title=\"This log has no timestamps (its run was made before pikaci recorded them)\">Timestamps</button>".to_owned()
        },
    );
    let title_text = match &shown {
        Shown::Job(job, _) => format!("{} · {} · {}", job, lane.title, parent.1),
        Shown::Lane => format!("lane output · {} · {}", lane.title, parent.1),
    };
    Ok(Page {
        title: title_text,
        crumbs: vec![(Some(parent.0), parent.1), (None, lane.title.clone())],
        body,
        active: live || lane_active,
    }
    .into_response())
}

//! `/news/api/forge/pikaci/...`: a pikaci run's record and logs.
//!
//! Every read goes through the store's handles: the run folder is checked once
//! (`Store::run`), then the record, the job (`RunDir::job`, the default-job
//! rule) and its logs (`JobDir::log`, `JobLog::read`) are read from it.
//! Records come through the [`RecordCache`](super::record_cache::RecordCache).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use pikaci_core::{JobId, LogFile, LogKind, RunId, RunLogsMetadata, RunRecord};
use pikaci_store::{FileIdentity, Fs as _, LogChunk, RunDir};

use super::dto::{LogPart, LogsResponse};
use super::query::{self, Params};
use super::raw::raw_url;
use super::record_cache::Cached;
use crate::auth::ReadAccess;
use crate::error::ApiError;
use crate::state::{AppState, Fresh};

pub(crate) fn parse_run_id(raw: &str) -> Result<RunId, ApiError> {
    raw.parse()
        .map_err(|e| ApiError::BadRequest(format!("invalid run id: {e}")))
}

fn task_failed(e: tokio::task::JoinError) -> ApiError {
    ApiError::Internal(format!("a read task failed: {e}"))
}

/// Loads a run, reporting a run whose pikaci died as interrupted.
pub(crate) async fn load_run(state: &AppState, run: RunId) -> Result<RunRecord, ApiError> {
    let dir = state.store.run(&run)?;
    Ok((*load_cached_record(state, dir, None).await?.record).clone())
}

/// Loads a run and its logs' metadata from the same (reconciled) record, so
/// both report one status.
pub(crate) async fn load_run_with_log_metadata(
    state: &AppState,
    run: RunId,
) -> Result<(RunRecord, RunLogsMetadata), ApiError> {
    let dir = state.store.run(&run)?;
    let cached = load_cached_record(state, dir.clone(), None).await?;
    let record = cached.record.clone();
    let meta = tokio::task::spawn_blocking(move || dir.logs_metadata(&record))
        .await
        .map_err(task_failed)??;
    Ok(((*cached.record).clone(), meta))
}

/// The identity of a run's `run.json` now (one `lstat`), if it has one.
fn record_identity(state: &AppState, run: &RunId) -> Option<FileIdentity> {
    state
        .store
        .fs()
        .identity(&state.store.root().run_json(run))
        .ok()
        .flatten()
}

/// A cached record of `run` that still stands: its folder is watched (and
/// this request's look at the disk, `fresh`, removed it if it changed), or
/// `run.json` has the identity it was read at (one `lstat`). A record that
/// says `running` is checked again for a dead owner (a `kill(pid, 0)`).
fn cached_record(state: &AppState, run: &RunId, fresh: Fresh) -> Option<Cached> {
    let hit = if fresh.watching() {
        state.records.get_watched(run)
    } else {
        None
    };
    let hit = hit.or_else(|| {
        let id = record_identity(state, run)?;
        state.records.get(run, &id)
    })?;
    (!state.liveness.is_orphaned(&hit.record)).then_some(hit)
}

/// The reconciled record of a run whose folder was checked: from the
/// [`RecordCache`](super::record_cache::RecordCache) when it still stands,
/// else read, parsed and reconciled on the blocking pool (after its folder
/// is watched, so no later change goes unseen) and kept. `fresh` is what
/// this request's access check saw of the disk (`None`: look now).
pub(crate) async fn load_cached_record(
    state: &AppState,
    dir: RunDir,
    fresh: Option<Fresh>,
) -> Result<Cached, ApiError> {
    let fresh = fresh.unwrap_or_else(|| state.fresh());
    if let Some(hit) = cached_record(state, dir.id(), fresh) {
        return Ok(hit);
    }
    let run = dir.id().clone();
    let watched = fresh.watching() && state.watch_run(&run);
    let identity = record_identity(state, &run);
    let liveness = state.liveness.clone();
    let record = tokio::task::spawn_blocking(move || {
        dir.record_reconciled(liveness.as_ref(), jiff::Timestamp::now())
    })
    .await
    .map_err(task_failed)??;
    Ok(state
        .records
        .put(&run, identity, watched, record, || state.unwatch_runs()))
}

/// `GET /news/api/forge/pikaci/run/{run_id}`: the `RunRecord`, as the bytes
/// serialized when it was read.
pub(crate) async fn run(
    access: ReadAccess,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> Result<Response, ApiError> {
    let run = parse_run_id(&run_id)?;
    // A record read before that still stands needs no other check: it is
    // the very content read through every check then (a run folder replaced
    // by a link is another folder, another `run.json`).
    let cached = match cached_record(&state, &run, access.fresh()) {
        Some(hit) => hit,
        None => load_cached_record(&state, state.store.run(&run)?, Some(access.fresh())).await?,
    };
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        cached.json,
    )
        .into_response())
}

/// The text of a chunk and what part of the log it is; a truncated part
/// names the raw route, which serves the rest.
fn split(
    chunk: Option<LogChunk>,
    run: &RunId,
    job: &JobId,
    file: LogFile,
) -> (Option<String>, Option<LogPart>) {
    match chunk {
        None => (None, None),
        Some(c) => {
            let mut part = LogPart::from(&c);
            if part.truncated {
                part.raw_url = Some(raw_url(run, job, file));
            }
            (Some(c.text), Some(part))
        }
    }
}

/// `GET /news/api/forge/pikaci/logs/{run_id}?job=&kind=host|guest|both&offset=&limit=&tail=`.
pub(crate) async fn logs(
    access: ReadAccess,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    Query(params): Query<Params>,
) -> Result<Json<LogsResponse>, ApiError> {
    let run = parse_run_id(&run_id)?;
    let job: Option<JobId> = query::id(&params, "job")?;
    let kind = match params.get("kind") {
        None => LogKind::Both,
        Some(k) => k
            .parse()
            .map_err(|e| ApiError::BadRequest(format!("invalid kind: {e}")))?,
    };
    let range = query::range(&params)?;
    let dir = state.store.run(&run)?;
    let record = load_cached_record(&state, dir.clone(), Some(access.fresh()))
        .await?
        .record;
    let (job, host, guest) = tokio::task::spawn_blocking(move || {
        let job = dir.job_of(&record, job.as_ref())?;
        let read = |file: LogFile| {
            kind.files()
                .contains(&file)
                .then(|| job.log(file).read(range))
                .transpose()
        };
        let (host, guest) = (read(LogFile::Host)?, read(LogFile::Guest)?);
        Ok::<_, pikaci_store::StoreError>((job, host, guest))
    })
    .await
    .map_err(task_failed)??;
    let (run, job_id) = (job.run().id(), job.id());
    let (host, host_log) = split(host, run, job_id, LogFile::Host);
    let (guest, guest_log) = split(guest, run, job_id, LogFile::Guest);
    Ok(Json(LogsResponse {
        run_id: job.run().id().clone(),
        job: job.id().clone(),
        host,
        guest,
        host_log,
        guest_log,
    }))
}

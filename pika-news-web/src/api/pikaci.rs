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
use crate::state::AppState;

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
    Ok((*load_cached_record(state, dir).await?.record).clone())
}

/// Loads a run and its logs' metadata from the same (reconciled) record, so
/// both report one status.
pub(crate) async fn load_run_with_log_metadata(
    state: &AppState,
    run: RunId,
) -> Result<(RunRecord, RunLogsMetadata), ApiError> {
    let dir = state.store.run(&run)?;
    let cached = load_cached_record(state, dir.clone()).await?;
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

/// The reconciled record of a run whose folder was checked, from the
/// [`RecordCache`](super::record_cache::RecordCache) when `run.json` is the
/// file it was read from (one `lstat` on this thread), else read, parsed and
/// reconciled on the blocking pool and kept. A cached record that says
/// `running` is checked again for a dead owner (a `kill(pid, 0)`), which
/// sends it down the slow path to be reconciled.
pub(crate) async fn load_cached_record(state: &AppState, dir: RunDir) -> Result<Cached, ApiError> {
    let identity = record_identity(state, dir.id());
    if let Some(id) = &identity
        && let Some(hit) = state.records.get(dir.id(), id)
        && !state.liveness.is_orphaned(&hit.record)
    {
        return Ok(hit);
    }
    let liveness = state.liveness.clone();
    let run = dir.id().clone();
    let record = tokio::task::spawn_blocking(move || {
        dir.record_reconciled(liveness.as_ref(), jiff::Timestamp::now())
    })
    .await
    .map_err(task_failed)??;
    Ok(match identity {
        Some(id) => state.records.put(&run, id, record),
        None => Cached::new(record),
    })
}

/// `GET /news/api/forge/pikaci/run/{run_id}`: the `RunRecord`, as the bytes
/// serialized when it was read.
pub(crate) async fn run(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> Result<Response, ApiError> {
    let run = parse_run_id(&run_id)?;
    // A record read before, from the file that is still there: no other
    // check is needed, since it is the very content read through every
    // check then (a run folder replaced by a link has another `run.json`).
    let identity = record_identity(&state, &run);
    let cached = match identity
        .as_ref()
        .and_then(|id| state.records.get(&run, id))
        .filter(|hit| !state.liveness.is_orphaned(&hit.record))
    {
        Some(hit) => hit,
        None => load_cached_record(&state, state.store.run(&run)?).await?,
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
    _: ReadAccess,
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
    let record = load_cached_record(&state, dir.clone()).await?.record;
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

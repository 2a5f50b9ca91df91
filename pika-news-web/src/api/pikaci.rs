//! `/news/api/forge/pikaci/...`: a pikaci run's record and logs.
//!
//! Every read goes through the store's handles: the run folder is checked once
//! (`Store::run`), then the record, the job (`RunDir::job`, the default-job
//! rule) and its logs (`JobDir::log`, `JobLog::read`) are read from it.

use axum::Json;
use axum::extract::{Path, Query, State};
use pikaci_core::{JobId, LogFile, LogKind, RunId, RunLogsMetadata, RunRecord};
use pikaci_store::{Fs as _, LogChunk, RunDir};

use super::dto::{LogPart, LogsResponse};
use super::query::{self, Params};
use super::raw::raw_url;
use crate::auth::ReadAccess;
use crate::error::ApiError;
use crate::state::AppState;

/// Records up to this size are read without leaving the request's thread.
const INLINE_RECORD_BYTES: u64 = 256 * 1024;

pub(crate) fn parse_run_id(raw: &str) -> Result<RunId, ApiError> {
    raw.parse()
        .map_err(|e| ApiError::BadRequest(format!("invalid run id: {e}")))
}

fn task_failed(e: tokio::task::JoinError) -> ApiError {
    ApiError::Internal(format!("a read task failed: {e}"))
}

/// Loads a run, reporting a run whose pikaci died as interrupted.
pub(crate) async fn load_run(state: &AppState, run: RunId) -> Result<RunRecord, ApiError> {
    // One `lstat`, as cheap as the size probe below: on this thread.
    let dir = state.store.run(&run)?;
    load_record(state, dir).await
}

/// Loads a run and its logs' metadata from the same (reconciled) record, so
/// both report one status.
pub(crate) async fn load_run_with_log_metadata(
    state: &AppState,
    run: RunId,
) -> Result<(RunRecord, RunLogsMetadata), ApiError> {
    let dir = state.store.run(&run)?;
    let record = load_record(state, dir.clone()).await?;
    let (record, meta) = tokio::task::spawn_blocking(move || {
        let meta = dir.logs_metadata(&record);
        (record, meta)
    })
    .await
    .map_err(task_failed)?;
    Ok((record, meta?))
}

/// The reconciled record of a run whose folder was checked.
async fn load_record(state: &AppState, dir: RunDir) -> Result<RunRecord, ApiError> {
    // A usual record (a few KiB, in the page cache) is read on this thread: a
    // hop to the blocking pool would cost more than the read. A large one goes
    // to the blocking pool so it cannot stall other requests.
    let size = state
        .store
        .fs()
        .size(&state.store.root().run_json(dir.id()))
        .ok()
        .flatten();
    let liveness = state.liveness.clone();
    if size.is_some_and(|n| n <= INLINE_RECORD_BYTES) {
        return Ok(dir.record_reconciled(liveness.as_ref(), jiff::Timestamp::now())?);
    }
    tokio::task::spawn_blocking(move || {
        dir.record_reconciled(liveness.as_ref(), jiff::Timestamp::now())
    })
    .await
    .map_err(task_failed)?
    .map_err(ApiError::from)
}

/// `GET /news/api/forge/pikaci/run/{run_id}`: the `RunRecord`.
pub(crate) async fn run(
    _: ReadAccess,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> Result<Json<RunRecord>, ApiError> {
    let run = parse_run_id(&run_id)?;
    Ok(Json(load_run(&state, run).await?))
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
    let store = state.store.clone();
    let (job, host, guest) = tokio::task::spawn_blocking(move || {
        let job = store.run(&run)?.job(job.as_ref())?;
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

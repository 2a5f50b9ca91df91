//! `/news/api/forge/pikaci/...`: a pikaci run's record, logs and prepared
//! outputs.
//!
//! Every read goes through the store's handles: the run folder is checked once
//! (`Store::run`), then the record, the job (`RunDir::job`, the default-job
//! rule) and its logs (`JobDir::log`, `JobLog::read`) are read from it.
//! Records come through [`run_loader`](super::run_loader): a cached one that
//! still stands is answered without touching the disk.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use pikaci_core::{JobId, LogFile, LogKind, RunId};
use pikaci_store::{LogChunk, LogRange, StoreError};

use super::dto::{LogPart, LogsResponse, PreparedOutputsResponse};
use super::encoded::{ANSWER_BUDGET, read_fitted};
use super::heavy::{bytes_answer, json_answer};
use super::query::{self, Params, parse_run_id};
use super::run_loader::{blocking, load_cached_record};
use crate::auth::ReadAccess;
use crate::error::ApiError;
use crate::links::Prefix;
use crate::state::AppState;

/// Log ranges up to this many bytes are read without a heavy-read permit.
const SMALL_LOG_BYTES: u64 = 256 * 1024;

/// `GET /news/api/forge/pikaci/run/{run_id}`: the `RunRecord`, as the bytes
/// serialized when it was read.
pub(crate) async fn run(
    access: ReadAccess,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> Result<Response, ApiError> {
    let run = parse_run_id(&run_id)?;
    let (cached, permit) = load_cached_record(&state, run, Some(access.fresh())).await?;
    Ok(bytes_answer(cached.json, permit))
}

/// `GET /news/api/forge/pikaci/prepared-outputs/{run_id}`: `{run_id,
/// prepared_outputs}`, read through the store (the layout's file, bounded,
/// never through a link); 404 when the run has none.
pub(crate) async fn prepared_outputs(
    _access: ReadAccess,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> Result<Response, ApiError> {
    let run = parse_run_id(&run_id)?;
    let store = state.store.clone();
    let id = run.clone();
    let prepared = blocking(move || store.run(&id)?.prepared_outputs())
        .await??
        .ok_or_else(|| ApiError::NotFound(format!("run {run} has no prepared outputs")))?;
    let answer = PreparedOutputsResponse {
        run_id: run,
        prepared_outputs: prepared,
    };
    json_answer(&answer, None, 4096)
}

/// The text of a chunk and what part of the log it is; a truncated part
/// names the raw route, which serves the rest.
fn split(
    chunk: Option<LogChunk>,
    prefix: Prefix,
    run: &RunId,
    job: &JobId,
    file: LogFile,
) -> (Option<String>, Option<LogPart>) {
    match chunk {
        None => (None, None),
        Some(c) => {
            let mut part = LogPart::from(&c);
            if part.truncated {
                part.raw_url = Some(prefix.raw_url(run, job, file));
            }
            (Some(c.text), Some(part))
        }
    }
}

/// The chunk of a log that does not exist (yet).
/// Whether a range reads so little that it needs no heavy-read permit.
pub(crate) fn small_range(range: LogRange) -> bool {
    match range {
        LogRange::Tail(n) | LogRange::Span { limit: n, .. } => n <= SMALL_LOG_BYTES,
        LogRange::Whole => false,
    }
}

/// `GET /news/api/forge/pikaci/logs/{run_id}?job=&kind=host|guest|both&offset=&limit=&tail=`.
///
/// The logs' text is at most [`ANSWER_BUDGET`] bytes once encoded, all
/// logs together (`both`: the host log gets at most half, the guest log the
/// rest); what is left out is reported by each log's `truncated`, `offset`
/// and `len`.
pub(crate) async fn logs(
    access: ReadAccess,
    prefix: Prefix,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let run = parse_run_id(&run_id)?;
    let job: Option<JobId> = query::id(&params, "job")?;
    let kind = match params.get("kind") {
        None => LogKind::Both,
        Some(k) => k
            .parse()
            .map_err(|e| ApiError::BadRequest(format!("invalid kind: {e}")))?,
    };
    let range = query::range(&params)?;
    let permit = if small_range(range) {
        None
    } else {
        Some(state.heavy.acquire().await?)
    };
    let record = load_cached_record(&state, run.clone(), Some(access.fresh()))
        .await?
        .0
        .record;
    let store = state.store.clone();
    let (job, host, guest) = blocking(move || {
        let job = store.run(&run)?.job_of(&record, job.as_ref())?;
        let files = kind.files();
        let mut remaining = ANSWER_BUDGET;
        let mut read = |file: LogFile| -> Result<Option<LogChunk>, StoreError> {
            if !files.contains(&file) {
                return Ok(None);
            }
            let Some(reader) = job.log(file).open()? else {
                return Ok(Some(LogChunk::missing()));
            };
            let share = if files.len() > 1 && file == LogFile::Host {
                remaining / 2
            } else {
                remaining
            };
            let (chunk, cost) = read_fitted(reader.size()?, range, share, |buf, at| {
                reader.read_at(buf, at)
            })?;
            remaining -= cost;
            Ok(Some(chunk))
        };
        let (host, guest) = (read(LogFile::Host)?, read(LogFile::Guest)?);
        Ok::<_, StoreError>((job, host, guest))
    })
    .await??;
    // Most logs are text that encodes about as long as it is.
    let hint = [&host, &guest]
        .iter()
        .filter_map(|c| c.as_ref().map(|c| c.text.len()))
        .sum::<usize>();
    let (run, job_id) = (job.run().id(), job.id());
    let (host, host_log) = split(host, prefix, run, job_id, LogFile::Host);
    let (guest, guest_log) = split(guest, prefix, run, job_id, LogFile::Guest);
    let answer = LogsResponse {
        run_id: job.run().id().clone(),
        job: job.id().clone(),
        host,
        guest,
        host_log,
        guest_log,
    };
    json_answer(&answer, permit, hint)
}

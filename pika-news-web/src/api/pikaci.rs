//! `/news/api/forge/pikaci/...`: a pikaci run's record and logs.

use axum::Json;
use axum::extract::{Path, Query, State};
use pikaci_core::{JobId, LogKind, RunId, RunRecord};
use pikaci_store::{LogChunk, LogRange};

use super::dto::{LogPart, LogsResponse};
use super::query::{self, Params};
use crate::auth::ReadAccess;
use crate::error::ApiError;
use crate::state::AppState;

/// Records up to this size are read without leaving the request's thread.
const INLINE_RECORD_BYTES: u64 = 256 * 1024;

pub(crate) fn parse_run_id(raw: &str) -> Result<RunId, ApiError> {
    raw.parse()
        .map_err(|e| ApiError::BadRequest(format!("invalid run id: {e}")))
}

/// Loads a run, reporting a run whose pikaci died as interrupted.
pub(crate) async fn load_run(state: &AppState, run: RunId) -> Result<RunRecord, ApiError> {
    // A usual record (a few KiB, in the page cache) is read on this thread: a
    // hop to the blocking pool would cost more than the read. A large one goes
    // to the blocking pool so it cannot stall other requests.
    use pikaci_store::Fs as _;
    let size = state
        .store
        .fs()
        .size(&state.store.root().run_json(&run))
        .ok()
        .flatten();
    if size.is_some_and(|n| n <= INLINE_RECORD_BYTES) {
        return state
            .store
            .load_run_record_reconciled(&run, state.liveness.as_ref(), jiff::Timestamp::now())
            .map_err(ApiError::from);
    }
    let st = state.clone();
    tokio::task::spawn_blocking(move || {
        st.store
            .load_run_record_reconciled(&run, st.liveness.as_ref(), jiff::Timestamp::now())
    })
    .await
    .map_err(|e| ApiError::Internal(format!("a read task failed: {e}")))?
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

fn split(chunk: Option<LogChunk>) -> (Option<String>, Option<LogPart>) {
    match chunk {
        None => (None, None),
        Some(c) => {
            let part = LogPart::from(&c);
            (Some(c.text), Some(part))
        }
    }
}

/// The range asked for: `tail`, or `offset`/`limit`, or the whole log (capped).
pub(crate) fn range(params: &Params) -> Result<LogRange, ApiError> {
    let tail = query::number(params, "tail")?;
    let offset = query::number(params, "offset")?;
    let limit = query::number(params, "limit")?;
    match (tail, offset, limit) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(ApiError::BadRequest(
            "give either tail, or offset and limit, not both".into(),
        )),
        (Some(n), None, None) => Ok(LogRange::Tail(n)),
        (None, None, None) => Ok(LogRange::Whole),
        (None, offset, limit) => Ok(LogRange::Span {
            offset: offset.unwrap_or(0),
            limit: limit.unwrap_or(u64::MAX),
        }),
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
    let range = range(&params)?;
    let st = state.clone();
    let logs =
        tokio::task::spawn_blocking(move || st.store.load_logs(&run, job.as_ref(), kind, range))
            .await
            .map_err(|e| ApiError::Internal(format!("a read task failed: {e}")))??;
    let (host, host_log) = split(logs.host);
    let (guest, guest_log) = split(logs.guest);
    Ok(Json(LogsResponse {
        run_id: logs.run_id,
        job: logs.job,
        host,
        guest,
        host_log,
        guest_log,
    }))
}

//! `/news/api/forge/pikaci/...`: a pikaci run's record, logs and prepared
//! outputs.
//!
//! Every read is the read model's ([`crate::reads`]): a cached record that
//! still stands is answered without touching the disk, as the bytes
//! serialized when it was read.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use pikaci_core::{JobId, LogFile, LogKind, RunId};
use pikaci_store::LogChunk;

use super::answer::{bytes_answer, json_answer};
use super::dto::{LogPart, LogsResponse, PreparedOutputsResponse};
use super::query::{self, Params, parse_run_id};
use crate::auth::ReadAccess;
use crate::error::ApiError;
use crate::links::Prefix;
use crate::reads::JobLogs;
use crate::state::AppState;

/// `GET /news/api/forge/pikaci/run/{run_id}`: the `RunRecord`, as the bytes
/// serialized when it was read.
pub(crate) async fn run(
    access: ReadAccess,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> Result<Response, ApiError> {
    let run = parse_run_id(&run_id)?;
    let read = state.reads.record(run, access.fresh()).await?;
    Ok(bytes_answer(read.cached.json, read.permit))
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
    let prepared = state
        .reads
        .prepared_outputs(run.clone())
        .await?
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

/// `GET /news/api/forge/pikaci/logs/{run_id}?job=&kind=host|guest|both&offset=&limit=&tail=`.
///
/// The logs' text is at most [`ANSWER_BUDGET`](crate::reads::encoded::ANSWER_BUDGET) bytes once encoded, all
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
    let JobLogs {
        run,
        job,
        host,
        guest,
        permit,
    } = state
        .reads
        .job_logs(access.fresh(), run, job, kind, range)
        .await?;
    // Most logs are text that encodes about as long as it is.
    let hint = [&host, &guest]
        .iter()
        .filter_map(|c| c.as_ref().map(|c| c.text.len()))
        .sum::<usize>();
    let (host, host_log) = split(host, prefix, &run, &job, LogFile::Host);
    let (guest, guest_log) = split(guest, prefix, &run, &job, LogFile::Guest);
    let answer = LogsResponse {
        run_id: run,
        job,
        host,
        guest,
        host_log,
        guest_log,
    };
    json_answer(&answer, permit, hint)
}

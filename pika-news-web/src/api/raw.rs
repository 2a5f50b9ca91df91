//! `GET|HEAD /news/api/forge/pikaci/logs/{run_id}/raw?job=&kind=host|guest`:
//! one log as `text/plain`, streamed, with byte ranges and validators.
//!
//! - The whole log, or one range of it (`Range: bytes=a-b`, `a-`, `-n` → 206
//!   with `Content-Range`); a range outside the log → 416 with
//!   `Content-Range: bytes */size`; several ranges → 416 (see
//!   [`http_range`](super::http_range)).
//! - `ETag` from the open log's identity (device, inode, size, modification
//!   time), so it changes when the log grows; `If-None-Match` → 304;
//!   `If-Range` with the current tag honours the range, anything else sends
//!   the whole log.
//! - `HEAD` answers the same headers (`Content-Length` included) and reads
//!   nothing.
//! - `?download=1` adds `Content-Disposition: attachment`.
//! - `?timestamps=1` prefixes each line with its arrival time; the span is
//!   then chosen with `offset`/`limit`/`tail` (bytes of the log) instead of
//!   `Range`, and the answer is chunked text with `X-Log-Offset`/`X-Log-End`.
//!
//! The answer covers the log as it was when it was opened: bytes the job
//! writes meanwhile belong to the next request (the next `ETag`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pikaci_core::{JobId, LogFile, RunId};
use pikaci_store::{FileIdentity, JobLog, LogRange, LogReader, StoreError};

use super::dto::ErrorBody;
use super::file_body::file_body;
use super::http_range::{RangeAsk, if_range_holds, none_match, parse_range};
use super::query::{self, Params, parse_run_id};
use super::timed_body::timed_body;
use crate::auth::ReadAccess;
use crate::error::ApiError;
use crate::live::timed::Timed;
use crate::state::AppState;

/// The path of the raw route for a run, without the query.
pub(crate) fn raw_path(run: &RunId) -> String {
    format!("/news/api/forge/pikaci/logs/{run}/raw")
}

/// The raw route's URL (path and query) for one log of a job.
pub(crate) fn raw_url(run: &RunId, job: &JobId, file: LogFile) -> String {
    format!("{}?job={job}&kind={}", raw_path(run), kind_word(file))
}

pub(crate) fn kind_word(file: LogFile) -> &'static str {
    match file {
        LogFile::Host => "host",
        LogFile::Guest => "guest",
    }
}

/// The strong `ETag` of one version of a log.
pub(crate) fn etag(id: &FileIdentity) -> String {
    format!(
        "\"{:x}-{:x}-{:x}-{:x}\"",
        id.dev, id.ino, id.size, id.mtime_ns
    )
}

/// An open log: the reader, its identity when opened, and whose it is.
pub(crate) struct OpenLog {
    pub(crate) log: JobLog,
    pub(crate) reader: Arc<LogReader>,
    pub(crate) identity: FileIdentity,
    pub(crate) run: RunId,
    pub(crate) job: JobId,
    pub(crate) file: LogFile,
}

/// Opens one log of a job on the blocking pool: the same run, job and id
/// checks as every read route; a log not written yet is a 404.
pub(crate) async fn open_log(
    state: &AppState,
    run: RunId,
    job: Option<JobId>,
    file: LogFile,
) -> Result<OpenLog, ApiError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let job = store.run(&run)?.job(job.as_ref())?;
        let log = job.log(file);
        let reader = log.open()?.ok_or_else(|| StoreError::LogNotFound {
            run: run.clone(),
            job: job.id().clone(),
            file,
        })?;
        let identity = reader.identity()?;
        Ok::<_, StoreError>(OpenLog {
            log,
            reader: Arc::new(reader),
            identity,
            run,
            job: job.id().clone(),
            file,
        })
    })
    .await
    .map_err(|e| ApiError::Internal(format!("a read task failed: {e}")))?
    .map_err(ApiError::from)
}

/// `GET|HEAD .../logs/{run_id}/raw?job=&kind=host|guest&download=1`.
pub(crate) async fn raw(
    _: ReadAccess,
    State(state): State<AppState>,
    method: Method,
    Path(run_id): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let run = parse_run_id(&run_id)?;
    let job: Option<JobId> = query::id(&params, "job")?;
    let file = query::one_log(&params)?;
    let download = query::flag(&params, "download")?;
    let timestamps = query::flag(&params, "timestamps")?;
    // Checked before anything is opened, so a bad span is a 400 either way.
    let span = if timestamps {
        Some(query::range(&params)?)
    } else {
        None
    };
    let log = open_log(&state, run, job, file).await?;

    let mut out = HeaderMap::new();
    // A log grows: caches must ask again, and may keep what the ETag vouches for.
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // The log is whatever a branch's CI printed: never let a browser guess it is HTML.
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if download {
        out.insert(
            header::CONTENT_DISPOSITION,
            value(&format!(
                "attachment; filename=\"{}-{}-{}\"",
                log.run,
                log.job,
                log.file.file_name()
            )),
        );
    }
    if let Some(span) = span {
        return timestamped(log, span, out, method == Method::HEAD).await;
    }
    let size = log.identity.size;
    let tag = etag(&log.identity);
    out.insert(header::ETAG, value(&tag));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));

    let text = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok());
    if text(header::IF_NONE_MATCH).is_some_and(|h| none_match(h, &tag)) {
        return Ok((StatusCode::NOT_MODIFIED, out).into_response());
    }
    let range_allowed = text(header::IF_RANGE).is_none_or(|h| if_range_holds(h, &tag));
    let ask = if range_allowed {
        parse_range(text(header::RANGE), size)
    } else {
        RangeAsk::Whole
    };
    let (status, start) = match ask {
        RangeAsk::Whole => (StatusCode::OK, 0),
        RangeAsk::Part { start, end } => {
            out.insert(
                header::CONTENT_RANGE,
                value(&format!("bytes {start}-{end}/{size}")),
            );
            (StatusCode::PARTIAL_CONTENT, start)
        }
        RangeAsk::Unsatisfiable | RangeAsk::Several => {
            let message = if ask == RangeAsk::Several {
                "only one range per request is served; ask for each range separately".to_owned()
            } else {
                format!("the range asked for is outside the log, which has {size} bytes")
            };
            out.insert(header::CONTENT_RANGE, value(&format!("bytes */{size}")));
            let body = axum::Json(ErrorBody { error: message });
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, out, body).into_response());
        }
    };
    let len = ask.len(size);
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    out.insert(header::CONTENT_LENGTH, value(&len.to_string()));
    let body = if method == Method::HEAD || len == 0 {
        Body::empty()
    } else {
        file_body(log.reader, start, start + len)
    };
    Ok((status, out, body).into_response())
}

/// `raw?timestamps=1`: the span chosen by `offset`/`limit`/`tail` (bytes of
/// the log, no cap; `Range` is not used), each line that starts in it
/// prefixed with its arrival time. The length is not known before the text
/// is made, so the answer is chunked; `X-Log-Offset` and `X-Log-End` say
/// which bytes of the log it covers.
async fn timestamped(
    log: OpenLog,
    span: LogRange,
    mut out: HeaderMap,
    head: bool,
) -> Result<Response, ApiError> {
    let size = log.identity.size;
    let (start, len) = span.span(size);
    let end = start + len;
    let (job_log, reader) = (log.log.clone(), log.reader.clone());
    let tail = matches!(span, LogRange::Tail(_));
    let (start, at_line_start) = tokio::task::spawn_blocking(move || {
        // A damaged sidecar is an error, not a log silently without times.
        job_log.times()?;
        // A tail starts on a character boundary, as every tail read does.
        let mut start = start;
        if tail && start > 0 {
            let mut first = [0u8; 3];
            let n = reader.read_at(&mut first, start)?;
            start += first[..n].iter().take_while(|b| *b & 0xC0 == 0x80).count() as u64;
        }
        Ok::<_, StoreError>((start, crate::live::starts_line(&job_log, start)))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("a read task failed: {e}")))??;
    let end = end.max(start);
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("none"));
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    out.insert("x-log-offset", value(&start.to_string()));
    out.insert("x-log-end", value(&end.to_string()));
    let body = if head {
        Body::empty()
    } else {
        timed_body(log.reader, Timed::new(log.log), start, end, at_line_start)
    };
    Ok((StatusCode::OK, out, body).into_response())
}

/// A header value made of characters this module chose (ids, numbers,
/// quotes): always valid.
fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).expect("ids, numbers and quotes make a valid header value")
}

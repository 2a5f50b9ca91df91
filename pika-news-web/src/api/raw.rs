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

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use pikaci_core::JobId;
use pikaci_store::{FileIdentity, LogRange, LogReader};

use super::dto::ErrorBody;
use super::file_body::file_body;
use super::http_range::{Conditions, RangeAsk};
use super::query::{self, Params, parse_run_id};
use super::timed_body::timed_body;
use crate::auth::ReadAccess;
use crate::error::ApiError;
use crate::live::timed::Timed;
use crate::reads::{ByteBudget, LogKey, OpenLog, Reads, ServedFs, Span};
use crate::state::AppState;

/// The strong `ETag` of one version of a log.
pub(crate) fn etag(id: &FileIdentity) -> String {
    format!(
        "\"{:x}-{:x}-{:x}-{:x}\"",
        id.dev, id.ino, id.size, id.mtime_ns
    )
}

/// Answers up to this size are read while the log is opened, in the same
/// hop to the blocking pool, and sent from memory (and kept by the read
/// model's tail cache).
const INLINE_BYTES: u64 = 256 * 1024;

/// `GET|HEAD .../logs/{run_id}/raw?job=&kind=host|guest&download=1`.
pub(crate) async fn raw(
    access: ReadAccess,
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
    // What to send is decided from the log's identity where it is opened, so
    // a small answer (a tail, a page of the viewer) is read in the same hop.
    let asked = Asked {
        conditions: Conditions::of(&headers),
        head: method == Method::HEAD,
        download,
    };
    let (head, plan) = (asked.head, asked.conditions.clone());
    let reads = &state.reads;
    if !timestamps
        && let Some((key, span)) = reads.kept_span(access.fresh(), &run, job.as_ref(), file)
        && let Some(answer) = from_span(&key, &span, &asked)
    {
        return Ok(answer);
    }
    let (log, inline) = reads
        .open_log(access.fresh(), run, job, file, move |id| {
            let size = id.size;
            plan.decide(&etag(id), size)?
                .span(size)
                .filter(|&(_, len)| !head && !timestamps && len <= INLINE_BYTES)
        })
        .await?;
    if let Some(span) = span {
        let out = common_headers(&log.key, download);
        return timestamped(reads, log, span, out, head).await;
    }
    let budget = reads.heavy().download_budget();
    let (answer, sent) = respond(&log.key, &log.identity, &asked, |_, _| {
        // What was read while the log was opened is exactly the span sent
        // (decided from the same identity and conditions).
        match inline {
            Some(bytes) => Source::Bytes(bytes),
            None => Source::Reader(log.reader.clone(), budget),
        }
    });
    if let Some((start, bytes)) = sent {
        reads.keep_span(&log, start, bytes);
    }
    Ok(answer)
}

/// The headers every raw answer has.
fn common_headers(ids: &LogKey, download: bool) -> HeaderMap {
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
                ids.0,
                ids.1,
                ids.2.file_name()
            )),
        );
    }
    out
}

/// What the request asks of the answer, besides which log.
struct Asked {
    /// `Range`, `If-Range`, `If-None-Match`.
    conditions: Conditions,
    /// `HEAD`: headers only.
    head: bool,
    /// `?download=1`: an attachment.
    download: bool,
}

/// Where an answer's bytes come from.
enum Source {
    /// Memory: exactly the bytes to send.
    Bytes(Bytes),
    /// The open log, streamed, its pieces taken from the download budget.
    Reader(Arc<LogReader>, ByteBudget),
}

/// The answer for a log of `identity` to what was `asked`: 304, 416, or 200
/// / 206 whose bytes `source(start, len)` gives. With the answer, the span
/// sent from memory when there was one (for the tail cache).
fn respond(
    ids: &LogKey,
    identity: &FileIdentity,
    asked: &Asked,
    source: impl FnOnce(u64, u64) -> Source,
) -> (Response, Option<(u64, Bytes)>) {
    let Asked {
        conditions,
        head,
        download,
    } = asked;
    let (head, download) = (*head, *download);
    let mut out = common_headers(ids, download);
    let size = identity.size;
    let tag = etag(identity);
    out.insert(header::ETAG, value(&tag));
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let Some(ask) = conditions.decide(&tag, size) else {
        return ((StatusCode::NOT_MODIFIED, out).into_response(), None);
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
            return (
                (StatusCode::RANGE_NOT_SATISFIABLE, out, body).into_response(),
                None,
            );
        }
    };
    let len = ask.len(size);
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    out.insert(header::CONTENT_LENGTH, value(&len.to_string()));
    if head || len == 0 {
        return ((status, out, Body::empty()).into_response(), None);
    }
    let (body, kept) = match source(start, len) {
        Source::Bytes(bytes) => (Body::from(bytes.clone()), Some((start, bytes))),
        Source::Reader(reader, budget) => (file_body(reader, start, start + len, budget), None),
    };
    ((status, out, body).into_response(), kept)
}

/// An answer from a span kept from an earlier request, when it holds what
/// is asked for (or nothing is sent); `None` when the log must be opened.
fn from_span(ids: &LogKey, span: &Span, asked: &Asked) -> Option<Response> {
    let size = span.identity.size;
    let sent = asked
        .conditions
        .decide(&etag(&span.identity), size)
        .and_then(|ask| ask.span(size))
        .filter(|_| !asked.head);
    let fits = sent.is_none_or(|(start, len)| span.slice(start, len).is_some());
    if !fits {
        return None;
    }
    let (answer, _) = respond(ids, &span.identity, asked, |start, len| {
        Source::Bytes(span.slice(start, len).expect("checked to fit"))
    });
    Some(answer)
}

/// `raw?timestamps=1`: the span chosen by `offset`/`limit`/`tail` (bytes of
/// the log, no cap; `Range` is not used), each line that starts in it
/// prefixed with its arrival time. The length is not known before the text
/// is made, so the answer is chunked; `X-Log-Offset` and `X-Log-End` say
/// which bytes of the log it covers.
async fn timestamped(
    reads: &Reads,
    log: OpenLog<ServedFs>,
    span: LogRange,
    mut out: HeaderMap,
    head: bool,
) -> Result<Response, ApiError> {
    let size = log.identity.size;
    let (start, len) = span.span(size);
    let end = start + len;
    let tail = matches!(span, LogRange::Tail(_));
    let (start, at_line_start) = reads.timed_start(&log, start, tail).await?;
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

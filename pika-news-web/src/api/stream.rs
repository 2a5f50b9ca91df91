//! `GET /news/api/forge/pikaci/logs/{run_id}/stream?job=&kind=host|guest&offset=N&timestamps=1`:
//! a job's log as Server-Sent Events, from byte `offset` (or the
//! `Last-Event-ID` a reconnecting client sends, which wins over `offset`)
//! until the job has finished and everything is sent; with `timestamps=1`
//! each line starts with its arrival time. The events and how a
//! stream follows are in [`crate::live`].

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use pikaci_core::JobId;

use super::query::{self, Params, parse_run_id};
use crate::auth::ReadAccess;
use crate::error::ApiError;
use crate::live::{self, StreamStart, sse::StreamStatus};
use crate::reads::FollowStart;
use crate::state::AppState;

/// Where a stream starts: `Last-Event-ID` (an offset the stream sent as an
/// event's `id:`) when the client sends one, else `offset`, else 0.
fn start_offset(params: &Params, headers: &HeaderMap) -> Result<u64, ApiError> {
    match headers.get("last-event-id") {
        Some(v) => v
            .to_str()
            .ok()
            .map(str::trim)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                ApiError::BadRequest(
                    "Last-Event-ID must be a byte offset this stream sent as an event id".into(),
                )
            }),
        None => Ok(query::number(params, "offset")?.unwrap_or(0)),
    }
}

/// A stream asked to start past the end of its log (an offset from a log
/// since truncated or replaced, or made up): one `error` event saying so,
/// as a `416` would, instead of a stream that waits for bytes that will
/// never come there.
fn past_the_end(from: u64, size: u64) -> Body {
    let message = format!(
        "416 range not satisfiable: offset {from} is past the end of the log ({size} bytes); \
         follow it again from 0"
    );
    Body::from(live::sse::error_event(&message))
}

/// `GET .../logs/{run_id}/stream?job=&kind=&offset=`.
pub(crate) async fn stream(
    access: ReadAccess,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let run = parse_run_id(&run_id)?;
    let job: Option<JobId> = query::id(&params, "job")?;
    let file = query::one_log(&params)?;
    let from = start_offset(&params, &headers)?;
    let timestamps = query::flag(&params, "timestamps")?;
    let (job, start) = state
        .reads
        .follow_start(access.fresh(), run, job, file, from, timestamps)
        .await?;
    let body = match start {
        FollowStart::From {
            log,
            at_line_start,
            record,
        } => {
            let start = StreamStart {
                status: StreamStatus::of(&record, &job),
                log,
                from,
                at_line_start,
                timestamps,
            };
            live::stream(state.live.clone(), state.reads.liveness().clone(), start)
        }
        FollowStart::PastTheEnd(size) => past_the_end(from, size),
    };
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        // Proxies such as nginx would otherwise hold events back in a buffer.
        (
            header::HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        ),
    ];
    Ok((headers, body).into_response())
}

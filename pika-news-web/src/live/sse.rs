//! The Server-Sent Events the log stream sends, encoded.
//!
//! - `log`: `id:` the byte offset just after the text; `data:` the text as
//!   one JSON string (SSE would otherwise turn every carriage return into a
//!   line end, and a log's `\r` progress lines and CRLFs arrive exactly).
//! - `status`: `data:` a [`StreamStatus`] when the job's status changes (and
//!   once at the start).
//! - `end`: `data:` a [`StreamEnd`], then the stream closes.
//! - `error`: `data:` `{"error": "..."}` when the log cannot be followed
//!   (its record over the bound, the log truncated or replaced, an offset
//!   past its end), then the stream closes: reconnecting would not help.
//! - a comment (`: keep-alive`) while the job is quiet.

use axum::body::Bytes;
use pikaci_core::{FailureKind, JobId, RunRecord, RunStatus};
use serde::Serialize;
use utoipa::ToSchema;

/// The data of a `status` event: where the job and its run are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamStatus {
    /// The job followed.
    pub job: JobId,
    /// The job's status; `null` while the job has not started.
    #[schema(required = true)]
    pub status: Option<RunStatus>,
    /// Why the job failed, when it did.
    #[schema(required = true)]
    pub failure_kind: Option<FailureKind>,
    /// The run's status.
    pub run_status: RunStatus,
}

impl StreamStatus {
    /// The status of `job` in `record`.
    pub(crate) fn of(record: &RunRecord, job: &JobId) -> Self {
        let j = record.job(job);
        Self {
            job: job.clone(),
            status: j.map(|j| j.status),
            failure_kind: j.and_then(|j| j.failure_kind),
            run_status: record.status,
        }
    }
}

/// The data of the `end` event: the job has finished and every byte of its
/// log has been sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamEnd {
    /// The job followed.
    pub job: JobId,
    /// Its final status (`null` for a job that never started).
    #[schema(required = true)]
    pub status: Option<RunStatus>,
    /// Why it failed, when it did.
    #[schema(required = true)]
    pub failure_kind: Option<FailureKind>,
    /// The run's status.
    pub run_status: RunStatus,
    /// The log's size: the offset after its last byte.
    pub offset: u64,
}

/// A `log` event of `text`, ending at byte `offset`.
pub(crate) fn log_event(text: &str, offset: u64) -> Bytes {
    let data = serde_json::to_string(text).expect("a string always serializes");
    Bytes::from(format!("event: log\nid: {offset}\ndata: {data}\n\n"))
}

/// A `status` event.
pub(crate) fn status_event(status: &StreamStatus) -> Bytes {
    json_event("status", status)
}

/// The `end` event.
pub(crate) fn end_event(end: &StreamEnd) -> Bytes {
    json_event("end", end)
}

/// The `error` event: why the stream stops (no server path in it).
pub(crate) fn error_event(message: &str) -> Bytes {
    json_event("error", &serde_json::json!({ "error": message }))
}

/// A comment line, which keeps proxies and clients from timing out.
pub(crate) fn heartbeat() -> Bytes {
    Bytes::from_static(b": keep-alive\n\n")
}

fn json_event(name: &str, data: &impl Serialize) -> Bytes {
    let data = serde_json::to_string(data).expect("event data always serializes");
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_framed_as_sse_and_text_survives_exactly() {
        assert_eq!(
            log_event("50%\r60%\r\nok\n", 17),
            "event: log\nid: 17\ndata: \"50%\\r60%\\r\\nok\\n\"\n\n"
        );
        let end = StreamEnd {
            job: "build".parse().unwrap(),
            status: Some(RunStatus::Passed),
            failure_kind: None,
            run_status: RunStatus::Passed,
            offset: 42,
        };
        assert_eq!(
            end_event(&end),
            "event: end\ndata: {\"job\":\"build\",\"status\":\"passed\",\"failure_kind\":null,\"run_status\":\"passed\",\"offset\":42}\n\n"
        );
    }
}

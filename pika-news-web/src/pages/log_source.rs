//! Where the log viewer's window comes from: a job's log in the state root
//! (with its arrival times, when it has a sidecar) or a lane run's own log,
//! opened and read on the blocking pool.

use pikaci_core::{JobId, LogFile, RunId};
use pikaci_store::{DiskFs, Fs as _, LogTimes};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::lines::{Bound, COUNT_BYTES, LogKey, ReadLog};
use super::window::{Window, WindowAt, read_window};
use crate::api::blocking;
use crate::db::LaneRunId;
use crate::error::ApiError;
use crate::state::AppState;

/// An opened log, and its arrival times when it has them.
pub(crate) struct Opened {
    log: Box<dyn ReadLogSized>,
    times: Option<LogTimes>,
}

/// A window of a log, with each line's arrival time (Unix milliseconds)
/// when the log has a timestamp sidecar.
pub(crate) struct LogView {
    pub(crate) window: Window,
    pub(crate) times: Option<Vec<Option<i64>>>,
}

/// Reads the window of a log, and its lines' times, on the blocking pool;
/// `None` when the log does not exist (yet).
pub(crate) async fn read_log(
    state: &AppState,
    key: LogKey,
    open: impl FnOnce() -> Result<Option<Opened>, ApiError> + Send + 'static,
    at: WindowAt,
) -> Result<Option<LogView>, ApiError> {
    let index = state.lines.clone();
    // Set when this request is dropped (its client left): the count on the
    // blocking pool stops at its next step instead of running on.
    let gone = Arc::new(AtomicBool::new(false));
    let _on_drop = SetOnDrop(gone.clone());
    blocking(move || {
        let Some(opened) = open()? else {
            return Ok(None);
        };
        let size = opened.log.size()?;
        let mut bound = Bound::new(COUNT_BYTES, &gone);
        let window = read_window(&index, &key, opened.log.as_read(), size, at, &mut bound)?;
        let times = match opened.times {
            Some(t) => {
                let mut cursor = t.cursor();
                Some(
                    window
                        .offsets
                        .iter()
                        .map(|&o| cursor.time_at(o))
                        .collect::<Result<Vec<_>, _>>()?,
                )
            }
            None => None,
        };
        Ok(Some(LogView { window, times }))
    })
    .await?
}

/// Sets its flag when dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A log that can say its size.
pub(crate) trait ReadLogSized: Send {
    fn size(&self) -> Result<u64, ApiError>;
    fn as_read(&self) -> &dyn ReadLog;
}

impl ReadLogSized for pikaci_store::LogReader {
    fn size(&self) -> Result<u64, ApiError> {
        Ok(pikaci_store::LogReader::size(self)?)
    }
    fn as_read(&self) -> &dyn ReadLog {
        self
    }
}

impl ReadLogSized for Box<dyn pikaci_store::ReadAt> {
    fn size(&self) -> Result<u64, ApiError> {
        pikaci_store::ReadAt::size(&**self).map_err(|e| {
            tracing::error!(error = %e, "reading a lane log failed");
            ApiError::Internal("the lane log cannot be read".into())
        })
    }
    fn as_read(&self) -> &dyn ReadLog {
        self
    }
}

pub(crate) fn job_log_opener(
    state: &AppState,
    run: RunId,
    job: JobId,
    file: LogFile,
) -> impl FnOnce() -> Result<Option<Opened>, ApiError> + Send + 'static {
    let store = state.store.clone();
    move || {
        let log = store.run(&run)?.job(Some(&job))?.log(file);
        let Some(reader) = log.open()? else {
            return Ok(None);
        };
        // Times are an addition: a sidecar that cannot be read leaves them out.
        let times = log.times().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "a log's timestamps cannot be read");
            None
        });
        Ok(Some(Opened {
            log: Box::new(reader),
            times,
        }))
    }
}

pub(crate) fn lane_log_opener(
    state: &AppState,
    lane: LaneRunId,
) -> impl FnOnce() -> Result<Option<Opened>, ApiError> + Send + 'static {
    let path = state.data_dir.as_ref().map(|d| d.lane_log(lane));
    move || {
        let Some(path) = path else {
            return Ok(None);
        };
        match DiskFs::new().open_read(&path) {
            Ok(f) => Ok(Some(Opened {
                log: Box::new(f),
                times: None,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => {
                tracing::error!(error = %e, lane_run_id = %lane, "opening a lane log failed");
                Err(ApiError::Internal(format!(
                    "the log of lane run {lane} cannot be read"
                )))
            }
        }
    }
}

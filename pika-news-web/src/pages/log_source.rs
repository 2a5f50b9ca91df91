//! Where the log viewer's window comes from: a job's log in the state root
//! (with its arrival times, when it has a sidecar) or a lane run's own log,
//! opened and read on the blocking pool.

use pikaci_core::{JobId, LogFile, RunId};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::lines::{Bound, COUNT_BYTES, LogKey};
use super::sections::{Continued, context_before};
use super::window::{Window, WindowAt, read_window};
use crate::db::LaneRunId;
use crate::error::ApiError;
use crate::reads::{Opened, ReadError, blocking};
use crate::state::AppState;

/// A window of a log, with each line's arrival time (Unix milliseconds)
/// when the log has a timestamp sidecar, and the sections it begins inside.
pub(crate) struct LogView {
    pub(crate) window: Window,
    pub(crate) times: Option<Vec<Option<i64>>>,
    pub(crate) continues: Vec<Continued>,
}

/// Reads the window of a log, and its lines' times, on the blocking pool;
/// `None` when the log does not exist (yet).
pub(crate) async fn read_log(
    state: &AppState,
    key: LogKey,
    open: impl FnOnce() -> Result<Option<Opened>, ReadError> + Send + 'static,
    at: WindowAt,
) -> Result<Option<LogView>, ApiError> {
    let index = state.reads.lines().clone();
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
        // Sections the window begins inside: a bounded look back, never
        // the whole log.
        let mut continues = if window.cut_first {
            Vec::new()
        } else {
            context_before(opened.log.as_read(), window.start)?
        };
        let times = match opened.times {
            Some(t) => {
                let mut cursor = t.cursor();
                // Their headers first: the cursor walks forwards.
                for c in &mut continues {
                    c.time = cursor.time_at(c.offset)?;
                }
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
        Ok::<_, ReadError>(Some(LogView {
            window,
            times,
            continues,
        }))
    })
    .await?
    .map_err(ApiError::from)
}

/// Sets its flag when dropped.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

pub(crate) fn job_log_opener(
    state: &AppState,
    run: RunId,
    job: JobId,
    file: LogFile,
) -> impl FnOnce() -> Result<Option<Opened>, ReadError> + Send + 'static {
    state.reads.job_text(run, job, file)
}

pub(crate) fn lane_log_opener(
    state: &AppState,
    lane: LaneRunId,
) -> impl FnOnce() -> Result<Option<Opened>, ReadError> + Send + 'static {
    state.reads.lane_text(lane)
}

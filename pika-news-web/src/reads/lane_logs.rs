//! Logs opened whole for the log viewer ([`Opened`]: a job's log with its
//! arrival times, or a lane run's own log), and a lane run's own log read by
//! range. Lane logs are the service's own files in its data folder (on
//! disk, opened never through a link and never blocking on a FIFO); job
//! logs come through the store's handles.

use pikaci_core::{JobId, LogFile, RunId};
use pikaci_store::{DiskFs, Fs as _, LogChunk, LogRange, LogTimes, ReadAt, read_chunk_at};

use super::ReadFs;
use super::encoded::{ANSWER_BUDGET, read_fitted};
use super::error::ReadError;
use super::lines::ReadLog;
use super::model::{Reads, blocking};
use crate::db::LaneRunId;

/// An opened log, and its arrival times when it has them.
pub(crate) struct Opened {
    pub(crate) log: Box<dyn ReadLogSized>,
    pub(crate) times: Option<LogTimes>,
}

/// A log that can say its size.
pub(crate) trait ReadLogSized: Send {
    fn size(&self) -> Result<u64, ReadError>;
    fn as_read(&self) -> &dyn ReadLog;
}

impl ReadLogSized for pikaci_store::LogReader {
    fn size(&self) -> Result<u64, ReadError> {
        Ok(pikaci_store::LogReader::size(self)?)
    }
    fn as_read(&self) -> &dyn ReadLog {
        self
    }
}

/// A lane run's log, opened.
struct LaneLog {
    lane: LaneRunId,
    file: Box<dyn ReadAt>,
}

impl ReadLogSized for LaneLog {
    fn size(&self) -> Result<u64, ReadError> {
        self.file.size().map_err(|source| ReadError::LaneLog {
            lane: self.lane,
            source,
        })
    }
    fn as_read(&self) -> &dyn ReadLog {
        &self.file
    }
}

/// Opens a lane run's log; `None` when it has none (yet).
fn open_lane_log(path: &camino::Utf8Path) -> std::io::Result<Option<Box<dyn ReadAt>>> {
    match DiskFs::new().open_read(path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl<F: ReadFs> Reads<F> {
    /// What opens a job's log for the viewer (blocking, when called): the
    /// log and its arrival times (a sidecar that cannot be read leaves them
    /// out); `None` when the log does not exist (yet).
    pub(crate) fn job_text(
        &self,
        run: RunId,
        job: JobId,
        file: LogFile,
    ) -> impl FnOnce() -> Result<Option<Opened>, ReadError> + Send + 'static {
        let store = self.store.clone();
        move || {
            let log = store.run(&run)?.job(Some(&job))?.log(file);
            let Some(reader) = log.open()? else {
                return Ok(None);
            };
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

    /// What opens a lane run's own log for the viewer (blocking, when
    /// called); `None` when it has none (yet) or lanes do not run here.
    pub(crate) fn lane_text(
        &self,
        lane: LaneRunId,
    ) -> impl FnOnce() -> Result<Option<Opened>, ReadError> + Send + 'static {
        let path = self.data_dir.as_ref().map(|d| d.lane_log(lane));
        move || {
            let Some(path) = path else {
                return Ok(None);
            };
            let file = open_lane_log(&path).map_err(|source| {
                tracing::error!(error = %source, lane_run_id = %lane, "opening a lane log failed");
                ReadError::LaneLog { lane, source }
            })?;
            Ok(file.map(|file| Opened {
                log: Box::new(LaneLog { lane, file }),
                times: None,
            }))
        }
    }

    /// Whether lane runs' own logs are served here (lanes run here).
    pub(crate) fn has_lane_logs(&self) -> bool {
        self.data_dir.is_some()
    }

    /// The part of `range` of a lane run's log that fits one answer (at
    /// most [`ANSWER_BUDGET`] bytes of encoded text), a large range under a
    /// heavy-read permit; a log not written yet reads as missing.
    pub(crate) async fn lane_log(
        &self,
        lane: LaneRunId,
        range: LogRange,
    ) -> Result<(LogChunk, Option<super::heavy::HeavyPermit>), ReadError> {
        let permit = if super::logs::small_range(range) {
            None
        } else {
            Some(self.heavy.acquire().await?)
        };
        let path = self.data_dir.as_ref().map(|d| d.lane_log(lane));
        let read = blocking(move || match path.as_deref().map(open_lane_log) {
            Some(Ok(Some(file))) => read_fitted(file.size()?, range, ANSWER_BUDGET, |buf, at| {
                ReadAt::read_at(&*file, buf, at)
            })
            .map(|(c, _)| c),
            Some(Ok(None)) | None => Ok(LogChunk::missing()),
            Some(Err(e)) => Err(e),
        })
        .await?;
        let chunk = read.map_err(|source| {
            tracing::error!(error = %source, lane_run_id = %lane, "reading a lane log failed");
            ReadError::LaneLog { lane, source }
        })?;
        Ok((chunk, permit))
    }

    /// The last `bytes` of a lane run's log; `None` when it has none (yet)
    /// or it cannot be read (the cause is logged).
    pub(crate) async fn lane_log_tail(&self, lane: LaneRunId, bytes: u64) -> Option<LogChunk> {
        let path = self.data_dir.as_ref()?.lane_log(lane);
        let read =
            blocking(move || read_chunk_at(&DiskFs::new(), &path, LogRange::Tail(bytes))).await;
        match read {
            Ok(Ok(c)) if c.exists && c.total_size > 0 => Some(c),
            Ok(Ok(_)) => None,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, %lane, "reading a lane log for log_text failed");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, %lane, "a read task failed");
                None
            }
        }
    }
}

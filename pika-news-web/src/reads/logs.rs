//! Job logs as the server reads them, each from the run's record through
//! the store's handles (`RunDir::job_of`, `JobDir::log`): opened for the
//! raw route ([`Reads::open_log`], with the small spans it sends kept in
//! the [`TailCache`](super::tail_cache::TailCache)), read by range for the
//! JSON route ([`Reads::job_logs`]), followed for a live stream
//! ([`Reads::follow_start`]), or opened whole for the log viewer
//! ([`Reads::job_text`]).

use std::io;
use std::sync::Arc;

use axum::body::Bytes;
use pikaci_core::{JobId, JobReader, LogFile, LogKind, RunId, RunRecord};
use pikaci_store::{
    FileIdentity, JobDir, JobLog, LogChunk, LogRange, LogReader, RunDir, StoreError,
};

use super::ReadFs;
use super::encoded::{ANSWER_BUDGET, read_fitted};
use super::error::ReadError;
use super::heavy::HeavyPermit;
use super::model::{Fresh, Reads, blocking};
use super::tail_cache::{LogKey, Span};

/// Log ranges up to this many bytes are read without a heavy-read permit.
const SMALL_LOG_BYTES: u64 = 256 * 1024;

/// Whether a range reads so little that it needs no heavy-read permit.
pub(crate) fn small_range(range: LogRange) -> bool {
    match range {
        LogRange::Tail(n) | LogRange::Span { limit: n, .. } => n <= SMALL_LOG_BYTES,
        LogRange::Whole => false,
    }
}

/// An open log: the reader, its identity when opened, and whose it is.
pub(crate) struct OpenLog<F> {
    pub(crate) log: JobLog<F>,
    pub(crate) reader: Arc<LogReader>,
    pub(crate) identity: FileIdentity,
    pub(crate) key: LogKey,
    /// Whether the job's folder was watched before the log was opened, so
    /// a span read from it may be kept ([`Reads::keep_span`]).
    pub(crate) watched: bool,
}

/// Where a live stream starts, or why it cannot.
pub(crate) enum FollowStart<F> {
    /// The log, whether `from` starts a line, and the record the job's
    /// status comes from.
    From {
        log: JobLog<F>,
        at_line_start: bool,
        record: Arc<RunRecord>,
    },
    /// `from` is past the end of the log, which has this many bytes.
    PastTheEnd(u64),
}

/// The logs of one job read by range, for the JSON route.
pub(crate) struct JobLogs {
    pub(crate) run: RunId,
    pub(crate) job: JobId,
    /// `None` when not asked for; a missing log is a chunk that says so.
    pub(crate) host: Option<LogChunk>,
    pub(crate) guest: Option<LogChunk>,
    /// The permit a large range was read under.
    pub(crate) permit: Option<HeavyPermit>,
}

/// Whether the byte at `offset` of `log` starts a line: offset 0, or the
/// byte before it is a newline (blocking: one read).
pub(crate) fn starts_line<F: pikaci_store::Fs>(log: &JobLog<F>, offset: u64) -> bool {
    if offset == 0 {
        return true;
    }
    let mut byte = [0u8; 1];
    log.open()
        .ok()
        .flatten()
        .and_then(|r| r.read_at(&mut byte, offset - 1).ok())
        == Some(1)
        && byte[0] == b'\n'
}

/// Reads exactly `len` bytes at `at`, or fails.
pub(crate) fn read_piece(reader: &LogReader, at: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        match reader.read_at(&mut buf[filled..], at + filled as u64) {
            Ok(0) => return Err(io::Error::other("the log is shorter than it was")),
            Ok(n) => filled += n,
            Err(e) => return Err(io::Error::other(e.to_string())),
        }
    }
    Ok(buf)
}

impl<F: ReadFs> Reads<F> {
    /// The job of a run (the default-job rule without `job`), from the run
    /// folder this request already checked, else checked now. Blocking.
    fn job_dir(
        &self,
        dir: Option<RunDir<F>>,
        run: &RunId,
        record: &RunRecord,
        job: Option<&JobId>,
    ) -> Result<JobDir<F>, StoreError> {
        let dir = match dir {
            Some(d) => d,
            None => self.store.run(run)?,
        };
        dir.job_of(record, job)
    }

    /// Opens one log of a job: the run's record through [`Reads::record`]
    /// (the run folder checked once for both), the job by the default-job
    /// rule; a log not written yet is [`StoreError::LogNotFound`].
    /// `prefetch` says, from the open log's identity, which span to read at
    /// once, in the same hop to the blocking pool (`None`: nothing).
    pub(crate) async fn open_log(
        &self,
        fresh: Fresh,
        run: RunId,
        job: Option<JobId>,
        file: LogFile,
        prefetch: impl FnOnce(&FileIdentity) -> Option<(u64, u64)> + Send + 'static,
    ) -> Result<(OpenLog<F>, Option<Bytes>), ReadError> {
        let read = self.record(run.clone(), fresh).await?;
        let (record, dir) = (read.cached.record, read.dir);
        let reads = self.clone();
        Ok(blocking(move || {
            let job = reads.job_dir(dir, &run, &record, job.as_ref())?;
            // Watched before it is read, so a span kept from this read is
            // dropped by the first change after it.
            let watched = fresh.watching() && reads.watch_job(&run, job.id());
            let log = job.log(file);
            let reader = log.open()?.ok_or_else(|| StoreError::LogNotFound {
                run: run.clone(),
                job: job.id().clone(),
                file,
            })?;
            let identity = reader.identity()?;
            let inline = match prefetch(&identity) {
                Some((start, len)) => Some(Bytes::from(
                    read_piece(&reader, start, len as usize).map_err(|source| StoreError::Io {
                        what: format!("reading {} of run {run} job {}", file.file_name(), job.id()),
                        source,
                    })?,
                )),
                None => None,
            };
            Ok::<_, StoreError>((
                OpenLog {
                    log,
                    reader: Arc::new(reader),
                    identity,
                    key: (run, job.id().clone(), file),
                    watched,
                },
                inline,
            ))
        })
        .await??)
    }

    /// The span of a log kept from an earlier request, while its job's
    /// folder is watched and unchanged and the run's record is cached
    /// likewise (so the default job is known without the disk); `None`
    /// otherwise. No file system call.
    pub(crate) fn kept_span(
        &self,
        fresh: Fresh,
        run: &RunId,
        job: Option<&JobId>,
        file: LogFile,
    ) -> Option<(LogKey, Span)> {
        let record = self.watched_hit(run, fresh)?.record;
        let job = job.or_else(|| record.default_job(JobReader::Api))?.clone();
        let key = (run.clone(), job, file);
        let span = self.tails.get(&key)?;
        Some((key, span))
    }

    /// Keeps `bytes` from `start` of a log opened while its job's folder
    /// was watched; nothing when it was not.
    pub(crate) fn keep_span(&self, log: &OpenLog<F>, start: u64, bytes: Bytes) {
        if !log.watched {
            return;
        }
        let span = Span {
            identity: log.identity,
            start,
            bytes,
        };
        self.tails.put(log.key.clone(), span, || self.unwatch(true));
    }

    /// Where a timestamped span of an open log starts, and whether it
    /// starts a line: a tail starts on a character boundary, as every tail
    /// read does. A damaged sidecar is an error, not a log silently without
    /// times.
    pub(crate) async fn timed_start(
        &self,
        log: &OpenLog<F>,
        start: u64,
        tail: bool,
    ) -> Result<(u64, bool), ReadError> {
        let (job_log, reader) = (log.log.clone(), log.reader.clone());
        Ok(blocking(move || {
            job_log.times()?;
            let mut start = start;
            if tail && start > 0 {
                let mut first = [0u8; 3];
                let n = reader.read_at(&mut first, start)?;
                start += pikaci_store::utf8_boundary_skip(&first[..n]) as u64;
            }
            Ok::<_, StoreError>((start, starts_line(&job_log, start)))
        })
        .await??)
    }

    /// Where a live stream of a job's log starts: at `from`, unless that is
    /// past the log's end. With `timestamps`, a damaged sidecar is reported
    /// now rather than losing times silently.
    pub(crate) async fn follow_start(
        &self,
        fresh: Fresh,
        run: RunId,
        job: Option<JobId>,
        file: LogFile,
        from: u64,
        timestamps: bool,
    ) -> Result<(JobId, FollowStart<F>), ReadError> {
        let read = self.record(run.clone(), fresh).await?;
        let (record, dir) = (read.cached.record, read.dir);
        let reads = self.clone();
        Ok(blocking(move || {
            let job = reads.job_dir(dir, &run, &record, job.as_ref())?;
            let log = job.log(file);
            if from > 0 {
                let size = log.size()?.unwrap_or(0);
                if from > size {
                    return Ok((job.id().clone(), FollowStart::PastTheEnd(size)));
                }
            }
            let at_line_start = if timestamps {
                log.times()?;
                starts_line(&log, from)
            } else {
                from == 0
            };
            Ok::<_, StoreError>((
                job.id().clone(),
                FollowStart::From {
                    log,
                    at_line_start,
                    record,
                },
            ))
        })
        .await??)
    }

    /// The logs of a job that `kind` names, each the part of `range` that
    /// fits the answer: at most [`ANSWER_BUDGET`] bytes of encoded text all
    /// together (`both`: the host log gets at most half, the guest log the
    /// rest). A large range is read under a heavy-read permit.
    pub(crate) async fn job_logs(
        &self,
        fresh: Fresh,
        run: RunId,
        job: Option<JobId>,
        kind: LogKind,
        range: LogRange,
    ) -> Result<JobLogs, ReadError> {
        let permit = if small_range(range) {
            None
        } else {
            Some(self.heavy.acquire().await?)
        };
        let read = self.record(run.clone(), fresh).await?;
        let (record, dir) = (read.cached.record, read.dir);
        let reads = self.clone();
        let (job, host, guest) = blocking(move || {
            let job = reads.job_dir(dir, &run, &record, job.as_ref())?;
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
        Ok(JobLogs {
            run: job.run().id().clone(),
            job: job.id().clone(),
            host,
            guest,
            permit,
        })
    }
}

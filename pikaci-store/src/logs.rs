//! Job logs: streaming writers, moving finished logs into place, ranged reads.

use std::io::{self, Write};

use camino::Utf8Path;
use pikaci_core::engine::LogSink;
use pikaci_core::{JobId, JobLogMetadata, LogFile, LogKind, RunId, RunLogsMetadata, RunRecord};

use crate::error::StoreError;
use crate::fs::Fs;
use crate::range::{LogRange, MAX_READ_BYTES, plan_read, utf8_boundary_skip};
use crate::store::{Store, without_path};

/// An append writer for one job log, writing straight into the run folder so
/// readers can follow the job while it runs.
pub struct JobLogWriter {
    inner: Box<dyn LogSink>,
}

impl std::fmt::Debug for JobLogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobLogWriter").finish_non_exhaustive()
    }
}

impl Write for JobLogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl LogSink for JobLogWriter {
    fn as_file(&self) -> Option<&std::fs::File> {
        self.inner.as_file()
    }
}

/// A piece of one log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    /// The bytes read, decoded as UTF-8 with invalid sequences replaced.
    pub text: String,
    /// Where the chunk starts in the file.
    pub offset: u64,
    /// How many bytes of the file the chunk covers.
    pub len: u64,
    /// The file's size when it was read.
    pub total_size: u64,
    /// Whether the chunk leaves out part of the file (before or after it).
    pub truncated: bool,
    /// Whether the file exists (a job that has not written yet has no log).
    pub exists: bool,
}

impl LogChunk {
    /// The chunk of a log that does not exist (yet).
    pub fn missing() -> Self {
        Self {
            text: String::new(),
            offset: 0,
            len: 0,
            total_size: 0,
            truncated: false,
            exists: false,
        }
    }
}

/// The logs of one job, as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLogs {
    /// The run.
    pub run_id: RunId,
    /// The job the logs belong to.
    pub job: JobId,
    /// `host.log`, when asked for.
    pub host: Option<LogChunk>,
    /// `guest.log`, when asked for.
    pub guest: Option<LogChunk>,
}

impl<F: Fs> Store<F> {
    /// Opens a job log for appending (creating folders as needed).
    pub fn open_job_log(
        &self,
        run: &RunId,
        job: &JobId,
        file: LogFile,
    ) -> Result<JobLogWriter, StoreError> {
        let path = self.root.job_log(run, job, file);
        let inner = self.fs.open_append(&path).map_err(StoreError::io(format!(
            "opening {} of run {run} job {job}",
            file.file_name()
        )))?;
        Ok(JobLogWriter { inner })
    }

    /// Puts a job's finished logs at their layout place. A log already there is
    /// left alone; one elsewhere on the same file system is moved (a rename, so
    /// the cost does not grow with its size); across file systems it is copied.
    pub fn persist_job_logs(
        &self,
        run: &RunId,
        job: &JobId,
        host: Option<&Utf8Path>,
        guest: Option<&Utf8Path>,
    ) -> Result<(), StoreError> {
        for (file, src) in [(LogFile::Host, host), (LogFile::Guest, guest)] {
            let Some(src) = src else { continue };
            let dest = self.root.job_log(run, job, file);
            if src == dest {
                continue;
            }
            let what = || {
                format!(
                    "moving {} of run {run} job {job} into place",
                    file.file_name()
                )
            };
            self.fs
                .create_dir_all(&self.root.job_dir(run, job))
                .map_err(StoreError::io(what()))?;
            match self.fs.rename(src, &dest) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
                    let tmp = dest.with_extension("log.partial");
                    self.fs.copy(src, &tmp).map_err(StoreError::io(what()))?;
                    self.fs
                        .rename(&tmp, &dest)
                        .map_err(StoreError::io(what()))?;
                    self.fs.remove_file(src).map_err(StoreError::io(what()))?;
                }
                Err(e) => return Err(StoreError::io(what())(e)),
            }
        }
        Ok(())
    }

    /// The size of a job log, `None` when it does not exist (yet).
    pub fn log_size(
        &self,
        run: &RunId,
        job: &JobId,
        file: LogFile,
    ) -> Result<Option<u64>, StoreError> {
        if self.existing_job_dir(run, job)?.is_none() {
            return Ok(None);
        }
        let path = self.root.job_log(run, job, file);
        self.fs
            .size(&path)
            .map_err(|e| self.log_error(e, run, job, file, &path))
    }

    /// Raw bytes of a job log from `offset`, at most `max` (for following and streaming).
    pub fn read_log_bytes(
        &self,
        run: &RunId,
        job: &JobId,
        file: LogFile,
        offset: u64,
        max: usize,
    ) -> Result<Vec<u8>, StoreError> {
        if self.existing_job_dir(run, job)?.is_none() {
            return Err(StoreError::LogNotFound {
                run: run.clone(),
                job: job.clone(),
                file,
            });
        }
        let path = self.root.job_log(run, job, file);
        self.fs.read_range(&path, offset, max).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                StoreError::LogNotFound {
                    run: run.clone(),
                    job: job.clone(),
                    file,
                }
            } else {
                self.log_error(e, run, job, file, &path)
            }
        })
    }

    /// Reads part of a job's logs. `job` defaults to the first job of the run;
    /// a job must be in the record or have a log folder.
    pub fn load_logs(
        &self,
        run: &RunId,
        job: Option<&JobId>,
        kind: LogKind,
        range: LogRange,
    ) -> Result<RunLogs, StoreError> {
        let record = self.load_run_record(run)?;
        let job = match job {
            Some(j) => j.clone(),
            None => record
                .jobs
                .first()
                .map(|j| j.id.clone())
                .or_else(|| record.planned_jobs.first().cloned())
                .ok_or_else(|| StoreError::InvalidInput {
                    message: format!("run {run} has no jobs; name one with job="),
                })?,
        };
        let job_dir = self.existing_job_dir(run, &job)?;
        let known = record.job(&job).is_some() || record.planned_jobs.contains(&job);
        if !known && job_dir.is_none() {
            return Err(StoreError::JobNotFound {
                run: run.clone(),
                job,
            });
        }
        let mut logs = RunLogs {
            run_id: run.clone(),
            job: job.clone(),
            host: None,
            guest: None,
        };
        for &file in kind.files() {
            let chunk = match job_dir {
                Some(_) => self.load_log_chunk(run, &job, file, range)?,
                None => LogChunk::missing(),
            };
            match file {
                LogFile::Host => logs.host = Some(chunk),
                LogFile::Guest => logs.guest = Some(chunk),
            }
        }
        Ok(logs)
    }

    /// Reads part of one job log; a log that does not exist (yet) is an
    /// empty chunk with `exists: false`.
    pub fn load_log_chunk(
        &self,
        run: &RunId,
        job: &JobId,
        file: LogFile,
        range: LogRange,
    ) -> Result<LogChunk, StoreError> {
        if self.existing_job_dir(run, job)?.is_none() {
            return Ok(LogChunk::missing());
        }
        let path = self.root.job_log(run, job, file);
        read_chunk_at(&self.fs, &path, range).map_err(|e| self.log_error(e, run, job, file, &path))
    }

    /// Each job's log locations (from the layout), existence and sizes.
    pub fn load_logs_metadata(&self, run: &RunId) -> Result<RunLogsMetadata, StoreError> {
        self.logs_metadata(&self.load_run_record(run)?)
    }

    /// [`Self::load_logs_metadata`] for a record already loaded (for example
    /// one whose dead owner was reconciled), so both agree on its status.
    pub fn logs_metadata(&self, record: &RunRecord) -> Result<RunLogsMetadata, StoreError> {
        let run = &record.run_id;
        let mut jobs = Vec::with_capacity(record.jobs.len());
        for job in &record.jobs {
            let host_log_size = self.log_size(run, &job.id, LogFile::Host)?;
            let guest_log_size = self.log_size(run, &job.id, LogFile::Guest)?;
            jobs.push(JobLogMetadata {
                id: job.id.clone(),
                host_log_path: self.root.job_log(run, &job.id, LogFile::Host),
                guest_log_path: self.root.job_log(run, &job.id, LogFile::Guest),
                host_log_exists: host_log_size.is_some(),
                guest_log_exists: guest_log_size.is_some(),
                host_log_size,
                guest_log_size,
            });
        }
        Ok(RunLogsMetadata {
            run_id: record.run_id.clone(),
            status: record.status,
            jobs,
        })
    }

    fn log_error(
        &self,
        e: io::Error,
        run: &RunId,
        job: &JobId,
        file: LogFile,
        path: &Utf8Path,
    ) -> StoreError {
        if e.kind() == io::ErrorKind::InvalidInput {
            StoreError::Corrupt {
                run: run.clone(),
                file: format!("jobs/{job}/{}", file.file_name()),
                message: without_path(&e, path),
            }
        } else {
            StoreError::io(format!(
                "reading {} of run {run} job {job}",
                file.file_name()
            ))(e)
        }
    }
}

/// Reads `range` of the file at `path` (at most [`MAX_READ_BYTES`]), decoding
/// it lossily; a tail starts on a character boundary. A missing file gives an
/// empty chunk with `exists: false`. Links are never followed
/// (the [`Fs`] contract). For logs outside the run layout, e.g. pika-news'
/// lane logs.
pub fn read_chunk_at<F: Fs + ?Sized>(
    fs: &F,
    path: &Utf8Path,
    range: LogRange,
) -> io::Result<LogChunk> {
    let Some(size) = fs.size(path)? else {
        return Ok(LogChunk::missing());
    };
    let (mut start, len) = plan_read(range, size, MAX_READ_BYTES);
    let mut bytes = fs.read_range(path, start, len as usize)?;
    if matches!(range, LogRange::Tail(_)) && start > 0 {
        let skip = utf8_boundary_skip(&bytes);
        bytes.drain(..skip);
        start += skip as u64;
    }
    let len = bytes.len() as u64;
    Ok(LogChunk {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        offset: start,
        len,
        total_size: size,
        truncated: start > 0 || start + len < size,
        exists: true,
    })
}

//! [`JobLog`]: one log of a job, read by range or as a whole.

use pikaci_core::LogFile;

use crate::error::StoreError;
use crate::fs::{DiskFs, FileIdentity, Fs, ReadAt};
use crate::layout::LogPlace;
use crate::range::LogRange;
use crate::read::chunk::{LogChunk, read_chunk};
use crate::read::job_dir::JobDir;

/// One log (`host.log` or `guest.log`) of a job. Made by [`JobDir::log`]; a
/// log that does not exist yet reads as empty, never as an error, because a
/// job that has not started has written nothing.
///
/// The log is looked for at each of its [places](crate::LogPlace) in order:
/// a guest log the earlier pikaci left at `jobs/<job>/artifacts/guest.log`
/// is read when `jobs/<job>/guest.log` is absent.
#[derive(Clone)]
pub struct JobLog<F = DiskFs> {
    job: JobDir<F>,
    file: LogFile,
}

impl<F> std::fmt::Debug for JobLog<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobLog")
            .field("job", &self.job)
            .field("file", &self.file)
            .finish()
    }
}

impl<F: Fs + Clone> JobDir<F> {
    /// The job's `host.log` or `guest.log`. Nothing is read until asked.
    pub fn log(&self, file: LogFile) -> JobLog<F> {
        JobLog {
            job: self.clone(),
            file,
        }
    }
}

impl<F: Fs> JobLog<F> {
    /// Which log this is.
    pub fn file(&self) -> LogFile {
        self.file
    }

    /// The job the log belongs to.
    pub fn job(&self) -> &JobDir<F> {
        &self.job
    }

    /// The log's size, `None` when it does not exist (yet).
    pub fn size(&self) -> Result<Option<u64>, StoreError> {
        if !self.job.has_folder()? {
            return Ok(None);
        }
        Ok(self
            .job
            .run()
            .log_size(self.job.id(), self.file)?
            .map(|(_, size)| size))
    }

    /// The identity of the file at the log's place now (nothing opened, no
    /// link followed), `None` when it does not exist or the file system
    /// has no identities: a follower compares it with the file it has open.
    pub fn identity(&self) -> Result<Option<FileIdentity>, StoreError> {
        if !self.job.has_folder()? {
            return Ok(None);
        }
        Ok(self
            .job
            .run()
            .log_identity(self.job.id(), self.file)?
            .map(|(_, identity)| identity))
    }

    /// The log's path relative to its run folder, for messages.
    pub(crate) fn relative(&self) -> String {
        LogPlace::JobFolder.relative(self.job.id(), self.file)
    }

    /// Reads `range` of the log (at most [`MAX_READ_BYTES`](crate::MAX_READ_BYTES)),
    /// decoded lossily, a tail starting on a character boundary. A log that
    /// does not exist (yet) is an empty chunk with `exists: false`. The cost
    /// depends on the range, not on the log's size.
    pub fn read(&self, range: LogRange) -> Result<LogChunk, StoreError> {
        match self.open()? {
            Some(reader) => {
                read_chunk(&*reader.file, range).map_err(StoreError::io(reader.what.clone()))
            }
            None => Ok(LogChunk::missing()),
        }
    }

    /// Opens the log to read it whole, in pieces of the caller's size: `None`
    /// when it does not exist (yet). The reader keeps reading the file it
    /// opened, whatever later happens to the folder.
    pub fn open(&self) -> Result<Option<LogReader>, StoreError> {
        if !self.job.has_folder()? {
            return Ok(None);
        }
        let run = self.job.run();
        Ok(run
            .open_log(self.job.id(), self.file)?
            .map(|(place, file)| LogReader {
                file,
                what: format!(
                    "reading {} of run {} job {}",
                    place.file_name(self.file),
                    run.id(),
                    self.job.id()
                ),
            }))
    }
}

/// An open job log, read by position: what [`JobLog::open`] gives.
pub struct LogReader {
    file: Box<dyn ReadAt>,
    /// What reading it is, for errors (`reading guest.log of run R job J`).
    what: String,
}

impl std::fmt::Debug for LogReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogReader")
            .field("what", &self.what)
            .finish_non_exhaustive()
    }
}

impl LogReader {
    /// The log's size now (it grows while the job runs).
    pub fn size(&self) -> Result<u64, StoreError> {
        self.file.size().map_err(StoreError::io(self.what.clone()))
    }

    /// The open log's identity now (device, inode, size, modification
    /// time): it changes when the log grows.
    pub fn identity(&self) -> Result<FileIdentity, StoreError> {
        self.file
            .identity()
            .map_err(StoreError::io(self.what.clone()))
    }

    /// Where the next byte of data at or after `offset` is, holes of a
    /// sparse log skipped; `None` when only a hole is left to the end.
    pub fn next_data(&self, offset: u64) -> Result<Option<u64>, StoreError> {
        self.file
            .next_data(offset)
            .map_err(StoreError::io(self.what.clone()))
    }

    /// Reads into `buf` from byte `offset`: how many bytes were read, 0 at
    /// the end. Reads into a buffer the caller reuses, so printing a whole log
    /// allocates nothing per piece.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, StoreError> {
        self.file
            .read_at(buf, offset)
            .map_err(StoreError::io(self.what.clone()))
    }
}

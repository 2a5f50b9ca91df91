//! [`Follow`]: a job log read as it grows, until the job has finished and
//! everything it wrote has been returned. The one follow loop, shared by
//! `pikaci logs --follow`, the examples and pika-news' log stream.
//!
//! It never waits itself: [`Follow::step`] returns [`FollowStep::Wait`] when
//! it has caught up with a running job, and the caller waits however suits it
//! (a tokio timer, a thread sleep, a test that writes more in between), then
//! steps again. [`Follow::blocking`] wraps that into an iterator with the wait
//! as a closure.

use std::sync::Arc;

use pikaci_core::{Clock, SystemClock};
use pikaci_core::{Liveness, RunRecord};

use crate::error::StoreError;
use crate::fs::{FileIdentity, Fs};
use crate::range::MAX_READ_BYTES;
use crate::read::job_log::{JobLog, LogReader};
use crate::read::run_dir::MAX_RUN_JSON_BYTES;

/// How many bytes one [`FollowChunk`] carries at most, unless
/// [`Follow::max_chunk`] says otherwise.
pub const DEFAULT_FOLLOW_CHUNK: usize = 64 * 1024;

/// New bytes of a followed log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowChunk {
    /// The bytes, as written (not decoded: a chunk may end inside a character).
    pub bytes: Vec<u8>,
    /// The byte offset just after them: where to resume (`JobLog::follow(offset, ..)`).
    pub offset: u64,
}

/// What one [`Follow::step`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowStep {
    /// New bytes.
    Chunk(FollowChunk),
    /// Caught up with a job that is still running: wait, then step again.
    Wait,
    /// The job has finished and every byte it wrote has been returned.
    /// Stepping again keeps returning `End`.
    End,
}

/// A job log followed from an offset. Made by [`JobLog::follow`].
///
/// Memory stays bounded: each chunk holds at most [`Follow::max_chunk`] bytes
/// and nothing is buffered between steps. The record is looked at only when
/// the follow has caught up, to learn whether the job has finished, and read
/// again only when its identity changed (one `lstat` otherwise), up to
/// [`Follow::record_bound`]. A job whose pikaci died is seen as finished: the
/// record is marked interrupted in memory, never written (a follow only
/// reads). A log truncated or replaced under the follow is an error that
/// says so, not a silent wait.
pub struct Follow<F = crate::fs::DiskFs> {
    log: JobLog<F>,
    reader: Option<LogReader>,
    /// Where the follow started.
    start: u64,
    offset: u64,
    max_chunk: usize,
    record_bound: u64,
    liveness: Arc<dyn Liveness>,
    clock: Arc<dyn Clock>,
    last_record: Option<RunRecord>,
    /// The identity of the `run.json` `last_record` was read from.
    record_version: Option<FileIdentity>,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The job may still write.
    Running,
    /// The job has finished: return what is left, then end.
    Draining,
    /// Everything has been returned.
    Ended,
}

impl<F> std::fmt::Debug for Follow<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follow")
            .field("offset", &self.offset)
            .field("max_chunk", &self.max_chunk)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<F: Fs> JobLog<F> {
    /// Follows the log from byte `from` (0 for the start, or the `offset` of
    /// the last chunk a consumer got, to resume). `liveness` tells a running
    /// job from one whose pikaci died.
    pub fn follow(self, from: u64, liveness: Arc<dyn Liveness>) -> Follow<F> {
        Follow {
            log: self,
            reader: None,
            start: from,
            offset: from,
            max_chunk: DEFAULT_FOLLOW_CHUNK,
            record_bound: MAX_RUN_JSON_BYTES,
            liveness,
            clock: Arc::new(SystemClock),
            last_record: None,
            record_version: None,
            state: State::Running,
        }
    }
}

impl<F: Fs> Follow<F> {
    /// Caps each chunk at `bytes` (at least 1, at most
    /// [`MAX_READ_BYTES`](crate::MAX_READ_BYTES)).
    pub fn max_chunk(mut self, bytes: usize) -> Self {
        self.max_chunk = bytes.clamp(1, MAX_READ_BYTES as usize);
        self
    }

    /// Reads `run.json` only up to `bytes` (default: the store's
    /// [`MAX_RUN_JSON_BYTES`](crate::MAX_RUN_JSON_BYTES)); a longer record is
    /// [`StoreError::Corrupt`] saying its size, never read.
    pub fn record_bound(mut self, bytes: u64) -> Self {
        self.record_bound = bytes;
        self
    }

    /// The clock used to date a run found interrupted (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The offset the next chunk starts at.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The run record read at the last check for the job's end, if any (for
    /// example to report the job's status once the follow ends).
    pub fn last_record(&self) -> Option<&RunRecord> {
        self.last_record.as_ref()
    }

    /// Reads what is new, or says to wait, or that the follow has ended.
    pub fn step(&mut self) -> Result<FollowStep, StoreError> {
        if self.state == State::Ended {
            return Ok(FollowStep::End);
        }
        if let Some(chunk) = self.read_more()? {
            return Ok(FollowStep::Chunk(chunk));
        }
        if self.state == State::Running {
            if !self.job_finished()? {
                self.check_still_the_log()?;
                return Ok(FollowStep::Wait);
            }
            // The job may have written more between the read above and its
            // end: what it wrote before its record said so is on disk now.
            self.state = State::Draining;
            if let Some(chunk) = self.read_more()? {
                return Ok(FollowStep::Chunk(chunk));
            }
        }
        self.state = State::Ended;
        Ok(FollowStep::End)
    }

    /// The follow as an iterator of chunks that calls `wait` whenever it has
    /// caught up with a running job (`|| std::thread::sleep(interval)` for
    /// real; a test can write more to the log instead). It ends after
    /// [`FollowStep::End`] or the first error.
    pub fn blocking<W: FnMut()>(self, wait: W) -> Blocking<F, W> {
        Blocking {
            follow: self,
            wait,
            done: false,
        }
    }

    /// The next bounded chunk after `offset`, if the log has one.
    fn read_more(&mut self) -> Result<Option<FollowChunk>, StoreError> {
        if self.reader.is_none() {
            self.reader = self.log.open()?;
        }
        let Some(reader) = &self.reader else {
            return Ok(None);
        };
        let size = reader.size()?;
        if size < self.offset {
            if self.offset == self.start {
                return Err(StoreError::InvalidInput {
                    message: format!(
                        "offset {} is past the end of {} of run {} ({size} bytes)",
                        self.offset,
                        self.log.relative(),
                        self.log.job().run().id()
                    ),
                });
            }
            return Err(self.reset(format!(
                "it was truncated to {size} bytes while followed at byte {}",
                self.offset
            )));
        }
        let available = size - self.offset;
        if available == 0 {
            return Ok(None);
        }
        let mut bytes = vec![0u8; available.min(self.max_chunk as u64) as usize];
        let n = reader.read_at(&mut bytes, self.offset)?;
        if n == 0 {
            return Ok(None);
        }
        bytes.truncate(n);
        self.offset += n as u64;
        Ok(Some(FollowChunk {
            bytes,
            offset: self.offset,
        }))
    }

    /// Whether the run or the job has finished, by the record (read again
    /// only when `run.json` changed), a dead owner's run taken as
    /// interrupted in memory.
    fn job_finished(&mut self) -> Result<bool, StoreError> {
        let run = self.log.job().run();
        let now = run.record_identity()?;
        let unchanged = now.is_some() && now == self.record_version;
        let record = match (unchanged, self.last_record.take()) {
            (true, Some(record)) => record,
            _ => {
                let (version, record) = run.record_versioned(self.record_bound)?;
                self.record_version = version;
                record
            }
        };
        let record = self.last_record.insert(record);
        if self.liveness.is_orphaned(record) {
            record.mark_interrupted(self.clock.now());
        }
        let job = self.log.job().id();
        Ok(record.status.is_finished() || record.job(job).is_some_and(|j| j.status.is_finished()))
    }

    /// Fails when the log the follow reads is no longer the one at its
    /// place (replaced by another file), so a stream says so instead of
    /// waiting on a file nobody writes.
    fn check_still_the_log(&self) -> Result<(), StoreError> {
        let Some(reader) = &self.reader else {
            return Ok(());
        };
        let open = reader.identity()?;
        let Some(now) = self.log.identity()? else {
            return Ok(());
        };
        if open.ino != 0 && (now.dev, now.ino) != (open.dev, open.ino) {
            return Err(self.reset("it was replaced by another file while followed".into()));
        }
        Ok(())
    }

    /// The error of a log that changed under the follow.
    fn reset(&self, why: String) -> StoreError {
        StoreError::Corrupt {
            run: self.log.job().run().id().clone(),
            file: self.log.relative(),
            message: format!("{why}; follow it again from the start"),
        }
    }
}

/// [`Follow`] as an iterator, waiting through a closure: see [`Follow::blocking`].
pub struct Blocking<F, W> {
    follow: Follow<F>,
    wait: W,
    done: bool,
}

impl<F, W> std::fmt::Debug for Blocking<F, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocking")
            .field("follow", &self.follow)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<F: Fs, W: FnMut()> Iterator for Blocking<F, W> {
    type Item = Result<FollowChunk, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            match self.follow.step() {
                Ok(FollowStep::Chunk(chunk)) => return Some(Ok(chunk)),
                Ok(FollowStep::Wait) => (self.wait)(),
                Ok(FollowStep::End) => self.done = true,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

impl<F: Fs, W: FnMut()> std::iter::FusedIterator for Blocking<F, W> {}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use pikaci_core::{FailureKind, JobId, LogFile, RunOwner, RunStatus};

    use super::*;
    use crate::fs::MemFs;
    use crate::layout::StateRoot;
    use crate::store::Store;

    /// A liveness check that, when asked about the owner, runs `on_check`
    /// (to act as the job at exactly that moment) and answers `alive`.
    struct Owner {
        alive: bool,
        on_check: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    }

    impl Owner {
        fn alive() -> Arc<Self> {
            Arc::new(Self {
                alive: true,
                on_check: Mutex::new(None),
            })
        }
        fn dies_after(f: impl FnOnce() + Send + 'static) -> Arc<Self> {
            Arc::new(Self {
                alive: false,
                on_check: Mutex::new(Some(Box::new(f))),
            })
        }
    }

    impl Liveness for Owner {
        fn this_host(&self) -> &str {
            "here"
        }
        fn is_alive(&self, _pid: u32) -> bool {
            if let Some(f) = self.on_check.lock().unwrap().take() {
                f();
            }
            self.alive
        }
    }

    struct Fixture {
        store: Store<MemFs>,
        record: RunRecord,
        job: JobId,
    }

    impl Fixture {
        /// A running run whose job `build` is running, owned by pid 7 here.
        fn new() -> Self {
            let store = Store::with_fs(MemFs::new(), StateRoot::new("/s"));
            let mut record = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
            record.status = RunStatus::Running;
            record.finished_at = None;
            record.jobs[0].status = RunStatus::Running;
            record.owner = Some(RunOwner {
                pid: 7,
                host: "here".into(),
                start_ticks: None,
                lock: false,
            });
            store.persist_run_record(&record).unwrap();
            let job = record.jobs[0].id.clone();
            Self { store, record, job }
        }

        fn write(&self, bytes: &[u8]) {
            self.store
                .open_job_log(&self.record.run_id, &self.job, LogFile::Guest)
                .unwrap()
                .write_all(bytes)
                .unwrap();
        }

        fn finish_job(&self) {
            let mut r = self.record.clone();
            r.jobs[0].status = RunStatus::Failed;
            self.store.persist_run_record(&r).unwrap();
        }

        fn follow(&self, from: u64, liveness: Arc<dyn Liveness>) -> Follow<MemFs> {
            self.store
                .run(&self.record.run_id)
                .unwrap()
                .job(Some(&self.job))
                .unwrap()
                .log(LogFile::Guest)
                .follow(from, liveness)
        }
    }

    fn chunk(bytes: &str, offset: u64) -> FollowStep {
        FollowStep::Chunk(FollowChunk {
            bytes: bytes.as_bytes().to_vec(),
            offset,
        })
    }

    #[test]
    fn returns_what_the_job_writes_in_bounded_chunks_until_it_finishes() {
        let fx = Fixture::new();
        let mut f = fx.follow(0, Owner::alive()).max_chunk(4);
        // Nothing written yet, not even a folder: wait.
        assert_eq!(f.step().unwrap(), FollowStep::Wait);
        fx.write(b"hello world");
        assert_eq!(f.step().unwrap(), chunk("hell", 4));
        assert_eq!(f.step().unwrap(), chunk("o wo", 8));
        assert_eq!(f.step().unwrap(), chunk("rld", 11));
        assert_eq!(f.step().unwrap(), FollowStep::Wait);
        assert_eq!(f.step().unwrap(), FollowStep::Wait);
        fx.write(b"!\n");
        assert_eq!(f.step().unwrap(), chunk("!\n", 13));
        fx.finish_job();
        assert_eq!(f.step().unwrap(), FollowStep::End);
        assert_eq!(f.step().unwrap(), FollowStep::End, "the end is final");
        assert_eq!(f.offset(), 13);
        let last = f.last_record().unwrap();
        assert_eq!(last.jobs[0].status, RunStatus::Failed);
    }

    #[test]
    fn resumes_from_an_offset() {
        let fx = Fixture::new();
        fx.write(b"hello world");
        fx.finish_job();
        let mut f = fx.follow(6, Owner::alive());
        assert_eq!(f.step().unwrap(), chunk("world", 11));
        assert_eq!(f.step().unwrap(), FollowStep::End);
        // Past the end of the log: an error that says so, not a wait.
        let mut f = fx.follow(500, Owner::alive());
        let err = f.step().unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        let err = err.to_string();
        assert!(
            err.contains("offset 500 is past the end of jobs/build/guest.log")
                && err.contains("(11 bytes)"),
            "{err}"
        );
    }

    #[test]
    fn a_dead_owners_run_ends_the_follow_and_its_record_is_not_written() {
        let fx = Fixture::new();
        fx.write(b"hello\n");
        let saved = || {
            let path = fx.store.root().run_json(&fx.record.run_id);
            fx.store.fs().read(&path, 1 << 20).unwrap()
        };
        let before = saved();
        let owner = Arc::new(Owner {
            alive: false,
            on_check: Mutex::new(None),
        });
        let mut f = fx.follow(0, owner);
        assert_eq!(f.step().unwrap(), chunk("hello\n", 6));
        assert_eq!(f.step().unwrap(), FollowStep::End);
        let last = f.last_record().unwrap();
        assert_eq!(last.failure_kind, Some(FailureKind::Interrupted));
        assert_eq!(saved(), before, "a follow only reads");
    }

    /// A running run on disk, its job's log and a follow of it.
    fn on_disk() -> (tempfile::TempDir, Store, RunRecord, Follow) {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(camino::Utf8Path::from_path(d.path()).unwrap());
        let mut record = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        record.status = RunStatus::Running;
        record.finished_at = None;
        record.jobs[0].status = RunStatus::Running;
        record.owner = None;
        store.persist_run_record(&record).unwrap();
        let job = record.jobs[0].id.clone();
        store
            .open_job_log(&record.run_id, &job, LogFile::Guest)
            .unwrap()
            .write_all(b"hello\n")
            .unwrap();
        let follow = store
            .run(&record.run_id)
            .unwrap()
            .job(Some(&job))
            .unwrap()
            .log(LogFile::Guest)
            .follow(0, Owner::alive());
        (d, store, record, follow)
    }

    #[test]
    fn the_record_is_read_again_only_when_its_identity_changes() {
        let (_d, store, record, mut f) = on_disk();
        let path = store.root().run_json(&record.run_id);
        assert_eq!(f.step().unwrap(), chunk("hello\n", 6));
        assert_eq!(f.step().unwrap(), FollowStep::Wait);
        // The same file, the same size and time, other bytes: not read again.
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        let size = std::fs::metadata(&path).unwrap().len() as usize;
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        std::io::Write::write_all(&mut &file, &vec![b'!'; size]).unwrap();
        file.set_modified(mtime).unwrap();
        drop(file);
        assert_eq!(f.step().unwrap(), FollowStep::Wait);
        assert_eq!(f.step().unwrap(), FollowStep::Wait);
        // A new record (a rename: a new inode) is read.
        let mut done = record.clone();
        done.jobs[0].status = RunStatus::Passed;
        store.persist_run_record(&done).unwrap();
        assert_eq!(f.step().unwrap(), FollowStep::End);
    }

    #[test]
    fn a_record_over_the_bound_is_refused_unread() {
        let (_d, store, mut record, f) = on_disk();
        let mut f = f.record_bound(64 * 1024);
        assert_eq!(f.step().unwrap(), chunk("hello\n", 6));
        assert_eq!(f.step().unwrap(), FollowStep::Wait);
        record.message = Some("x".repeat(100 * 1024));
        store.persist_run_record(&record).unwrap();
        let err = f.step().unwrap_err();
        assert!(err.is_corrupt(), "{err}");
        assert!(
            err.to_string()
                .contains("larger than the 65536 bytes accepted"),
            "{err}"
        );
    }

    #[test]
    fn a_log_truncated_or_replaced_under_the_follow_is_an_error() {
        for how in ["truncated", "replaced"] {
            let (_d, store, record, mut f) = on_disk();
            assert_eq!(f.step().unwrap(), chunk("hello\n", 6));
            let path = store
                .root()
                .job_log(&record.run_id, &record.jobs[0].id, LogFile::Guest);
            if how == "truncated" {
                let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
                file.set_len(2).unwrap();
            } else {
                std::fs::write(path.with_extension("new"), "other\n").unwrap();
                std::fs::rename(path.with_extension("new"), &path).unwrap();
            }
            let err = f.step().unwrap_err().to_string();
            assert!(
                err.contains(how) && err.contains("jobs/build/guest.log"),
                "{err}"
            );
        }
    }

    #[test]
    fn output_written_just_before_the_end_is_not_lost() {
        let fx = Fixture::new();
        fx.write(b"first\n");
        // The job writes its last line and its pikaci dies after the follow
        // has caught up but before it reads the record.
        let store = fx.store.clone();
        let (run, job) = (fx.record.run_id.clone(), fx.job.clone());
        let owner = Owner::dies_after(move || {
            store
                .open_job_log(&run, &job, LogFile::Guest)
                .unwrap()
                .write_all(b"last\n")
                .unwrap();
        });
        let mut f = fx.follow(0, owner);
        assert_eq!(f.step().unwrap(), chunk("first\n", 6));
        assert_eq!(f.step().unwrap(), chunk("last\n", 11));
        assert_eq!(f.step().unwrap(), FollowStep::End);
        let last = f.last_record().unwrap();
        assert_eq!(last.failure_kind, Some(FailureKind::Interrupted));
    }

    #[test]
    fn blocking_waits_through_the_closure_and_yields_every_byte() {
        let fx = Fixture::new();
        let writes = ["a".repeat(10), "b".repeat(25), String::new(), "c".repeat(3)];
        let mut next = 0;
        let follow = fx.follow(0, Owner::alive()).max_chunk(8);
        let chunks: Vec<FollowChunk> = follow
            .blocking(|| {
                match writes.get(next) {
                    Some(w) => fx.write(w.as_bytes()),
                    None => fx.finish_job(),
                }
                next += 1;
            })
            .collect::<Result<_, _>>()
            .unwrap();
        let all: Vec<u8> = chunks.iter().flat_map(|c| c.bytes.clone()).collect();
        assert_eq!(all, writes.concat().into_bytes());
        assert!(
            chunks
                .iter()
                .all(|c| !c.bytes.is_empty() && c.bytes.len() <= 8)
        );
        let mut end = 0;
        for c in &chunks {
            end += c.bytes.len() as u64;
            assert_eq!(c.offset, end, "each chunk says where the next starts");
        }
        assert_eq!(next, writes.len() + 1, "waited once per caught-up step");
    }

    #[test]
    fn a_run_that_disappears_is_an_error_and_ends_the_iterator() {
        let fx = Fixture::new();
        let follow = fx.follow(0, Owner::alive());
        let mut it = follow.blocking(|| {
            fx.store
                .fs()
                .remove_dir_all(&fx.store.root().run_dir(&fx.record.run_id))
                .unwrap();
        });
        let err = it.next().unwrap().unwrap_err();
        assert!(err.is_not_found(), "{err}");
        assert!(it.next().is_none());
    }

    #[test]
    fn a_follow_can_move_into_a_task_or_a_stream() {
        fn owned_and_sendable<T: Send + 'static>() {}
        owned_and_sendable::<Follow<crate::fs::DiskFs>>();
        owned_and_sendable::<Follow<MemFs>>();
    }

    #[test]
    fn chunk_size_is_clamped() {
        let fx = Fixture::new();
        let f = fx.follow(0, Owner::alive()).max_chunk(0);
        assert_eq!(f.max_chunk, 1);
        let f = fx.follow(0, Owner::alive()).max_chunk(usize::MAX);
        assert_eq!(f.max_chunk, MAX_READ_BYTES as usize);
    }
}

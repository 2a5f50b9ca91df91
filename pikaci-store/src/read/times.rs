//! [`LogTimes`]: when the bytes of a job log arrived, read from the log's
//! timestamp sidecar (`guest.log.ts`, format in [`pikaci_core::log_times`]).
//!
//! The sidecar is optional: a run from before it existed, or one whose
//! sidecar could not be written, has none, and its log reads as before.
//! Lookups cost a binary search of the file (about 20 reads of 16 bytes for
//! an hour of a chatty job); a [`TimesCursor`] walking a log forwards reads
//! the records in blocks instead.

use std::io;

use pikaci_core::log_times::{MAGIC, RECORD_LEN, TimeRecord};

use crate::error::StoreError;
use crate::fs::{Fs, ReadAt};
use crate::layout::JOBS_DIR;
use crate::read::chunk::read_full;
use crate::read::job_log::JobLog;

const HEADER: u64 = MAGIC.len() as u64;
/// Records read at once by a cursor.
const BLOCK: usize = 512;
/// Records a cursor steps through for one lookup before it searches
/// instead: a job can write a sidecar of millions of tiny records between
/// two lines, and a walk through them would cost a read of each block.
const WALK: u64 = 2 * BLOCK as u64;

/// A log's arrival times, opened. Made by [`JobLog::times`].
pub struct LogTimes {
    file: Box<dyn ReadAt>,
    what: String,
}

impl std::fmt::Debug for LogTimes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogTimes")
            .field("what", &self.what)
            .finish_non_exhaustive()
    }
}

impl<F: Fs> JobLog<F> {
    /// The log's arrival times: `None` when the log has no timestamp sidecar
    /// (runs from before it, or a sidecar that could not be written). A
    /// sidecar that is not one (a wrong header) is [`StoreError::Corrupt`].
    /// Links are never followed.
    pub fn times(&self) -> Result<Option<LogTimes>, StoreError> {
        let job = self.job();
        let run = job.run();
        let path = run
            .store()
            .root()
            .job_log_times(run.id(), job.id(), self.file());
        let name = format!(
            "{JOBS_DIR}/{}/{}",
            job.id(),
            path.file_name().unwrap_or_default()
        );
        let what = format!("reading {name} of run {}", run.id());
        let corrupt = |message: String| StoreError::Corrupt {
            run: run.id().clone(),
            file: name.clone(),
            message,
        };
        let file = match run.store().fs().open_read(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                return Err(corrupt(crate::store::without_path(&e, &path)));
            }
            Err(e) => return Err(StoreError::io(what)(e)),
        };
        let mut head = [0u8; MAGIC.len()];
        let n = read_full(&*file, &mut head, 0).map_err(StoreError::io(what.clone()))?;
        if n < head.len() {
            // Created, but not even its header was written: no times.
            return Ok(None);
        }
        if head != MAGIC {
            return Err(corrupt("not a pikaci timestamp file".into()));
        }
        Ok(Some(LogTimes { file, what }))
    }
}

impl LogTimes {
    /// How many whole records there are now (a torn last one is not counted).
    pub fn len(&self) -> Result<u64, StoreError> {
        let size = self.file.size().map_err(self.io())?;
        Ok(size.saturating_sub(HEADER) / RECORD_LEN as u64)
    }

    /// Whether there are no records yet.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    /// Records `first..first + out.len()` (fewer at the end): how many were read.
    fn read_records(
        &self,
        first: u64,
        out: &mut Vec<TimeRecord>,
        max: usize,
    ) -> Result<usize, StoreError> {
        let mut buf = vec![0u8; max * RECORD_LEN];
        let n = read_full(&*self.file, &mut buf, HEADER + first * RECORD_LEN as u64)
            .map_err(self.io())?;
        out.clear();
        out.extend(
            buf[..n - n % RECORD_LEN]
                .chunks_exact(RECORD_LEN)
                .map(|c| TimeRecord::decode(c.try_into().expect("16 bytes"))),
        );
        Ok(out.len())
    }

    /// Record `i`.
    pub fn record(&self, i: u64) -> Result<Option<TimeRecord>, StoreError> {
        let mut one = Vec::with_capacity(1);
        self.read_records(i, &mut one, 1)?;
        Ok(one.pop())
    }

    /// The index of the first record whose `end` is past `offset` (`len`
    /// when none is).
    fn search(&self, offset: u64, len: u64) -> Result<u64, StoreError> {
        let (mut lo, mut hi) = (0, len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.record(mid)? {
                Some(r) if r.end <= offset => lo = mid + 1,
                _ => hi = mid,
            }
        }
        Ok(lo)
    }

    /// When the byte at `offset` arrived, in Unix milliseconds: the time of
    /// the first record that ends after it, else (bytes not recorded yet) the
    /// last record's; `None` with no records.
    pub fn time_at(&self, offset: u64) -> Result<Option<i64>, StoreError> {
        let len = self.len()?;
        if len == 0 {
            return Ok(None);
        }
        let i = self.search(offset, len)?.min(len - 1);
        Ok(self.record(i)?.map(|r| r.ms))
    }

    /// A cursor for lookups at offsets that mostly go up.
    pub fn cursor(self) -> TimesCursor {
        TimesCursor {
            times: self,
            block: Vec::new(),
            block_start: 0,
            last: None,
            idx: 0,
        }
    }

    fn io(&self) -> impl FnOnce(io::Error) -> StoreError + use<> {
        StoreError::io(self.what.clone())
    }
}

/// [`LogTimes`] walked forwards: each lookup after the first costs nothing
/// but a step through a block of records already read.
#[derive(Debug)]
pub struct TimesCursor {
    times: LogTimes,
    /// Records `block_start..block_start + block.len()`.
    block: Vec<TimeRecord>,
    block_start: u64,
    /// The last offset asked for.
    last: Option<u64>,
    /// The first record whose `end` is past `last`.
    idx: u64,
}

impl TimesCursor {
    /// When the byte at `offset` arrived (as [`LogTimes::time_at`]).
    pub fn time_at(&mut self, offset: u64) -> Result<Option<i64>, StoreError> {
        if self.last.is_none_or(|l| offset < l) {
            let len = self.times.len()?;
            self.idx = self.times.search(offset, len)?;
            self.block.clear();
        }
        self.last = Some(offset);
        let mut walked = 0;
        loop {
            if walked == WALK {
                // Far ahead: a binary search costs ~40 reads, however far.
                let len = self.times.len()?;
                self.idx = self.times.search(offset, len)?;
                walked += 1;
            }
            match self.at(self.idx)? {
                Some(r) if r.end <= offset => {
                    self.idx += 1;
                    walked += 1;
                }
                Some(r) => return Ok(Some(r.ms)),
                None if self.idx == 0 => return Ok(None),
                // Past the last record: the last record's time.
                None => return Ok(self.at(self.idx - 1)?.map(|r| r.ms)),
            }
        }
    }

    /// Record `i`, from the block, reading the block it is in if needed.
    fn at(&mut self, i: u64) -> Result<Option<TimeRecord>, StoreError> {
        let in_block = i >= self.block_start && i < self.block_start + self.block.len() as u64;
        if !in_block {
            self.block_start = i;
            self.times.read_records(i, &mut self.block, BLOCK)?;
        }
        Ok(self.block.get((i - self.block_start) as usize).copied())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};

    use jiff::Timestamp;
    use pikaci_core::Clock;
    use pikaci_core::log_times::{Arrivals, time_of};
    use pikaci_core::{LogFile, RunRecord};
    use proptest::prelude::*;

    use super::*;
    use crate::fs::MemFs;
    use crate::layout::StateRoot;
    use crate::store::Store;

    struct Ticks(AtomicI64);

    impl Clock for Ticks {
        fn now(&self) -> Timestamp {
            Timestamp::from_millisecond(self.0.load(Ordering::SeqCst)).unwrap()
        }
    }

    fn fixture() -> (Store<MemFs>, RunRecord) {
        let store = Store::with_fs(MemFs::new(), StateRoot::new("/s"));
        let record = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        store.persist_run_record(&record).unwrap();
        (store, record)
    }

    fn log(store: &Store<MemFs>, r: &RunRecord) -> JobLog<MemFs> {
        store
            .run(&r.run_id)
            .unwrap()
            .job(None)
            .unwrap()
            .log(LogFile::Guest)
    }

    #[test]
    fn writes_through_the_store_are_dated_and_old_runs_have_no_times() {
        let (store, r) = fixture();
        assert!(log(&store, &r).times().unwrap().is_none(), "no sidecar yet");
        let before = Timestamp::now().as_millisecond();
        let mut w = store
            .open_job_log(&r.run_id, &r.jobs[0].id, LogFile::Guest)
            .unwrap();
        w.write_all(b"one\n").unwrap();
        w.write_all(b"two\n").unwrap();
        drop(w);
        let after = Timestamp::now().as_millisecond();
        let times = log(&store, &r).times().unwrap().expect("a sidecar");
        assert!(!times.is_empty().unwrap());
        for offset in [0, 3, 4, 7, 100] {
            let t = times.time_at(offset).unwrap().unwrap();
            assert!(before <= t && t <= after, "{t} not in {before}..{after}");
        }
        // A second writer (a rerun of the same log) appends, continuing the ends.
        let mut w = store
            .open_job_log(&r.run_id, &r.jobs[0].id, LogFile::Guest)
            .unwrap();
        w.write_all(b"three\n").unwrap();
        drop(w);
        let times = log(&store, &r).times().unwrap().unwrap();
        let last = times.record(times.len().unwrap() - 1).unwrap().unwrap();
        assert_eq!(last.end, 14);
    }

    #[test]
    fn a_bad_header_is_corrupt_a_short_one_is_none_and_links_are_refused() {
        let (store, r) = fixture();
        let path = store
            .root()
            .job_log_times(&r.run_id, &r.jobs[0].id, LogFile::Guest);
        store.fs().write_atomic(&path, b"pikaci").unwrap();
        assert!(log(&store, &r).times().unwrap().is_none());
        store.fs().write_atomic(&path, &[b'x'; 40]).unwrap();
        let err = log(&store, &r).times().unwrap_err();
        assert!(err.is_corrupt(), "{err}");
        assert!(err.to_string().contains("jobs/build/guest.log.ts"), "{err}");
        store.fs().remove_dir_all(&path).unwrap();
        store.fs().symlink(&path).unwrap();
        assert!(log(&store, &r).times().unwrap_err().is_corrupt());
    }

    #[test]
    fn a_torn_last_record_is_not_read() {
        let (store, r) = fixture();
        let path = store
            .root()
            .job_log_times(&r.run_id, &r.jobs[0].id, LogFile::Guest);
        let mut bytes = MAGIC.to_vec();
        bytes.extend(TimeRecord { end: 5, ms: 7 }.encode());
        bytes.extend(&TimeRecord { end: 9, ms: 8 }.encode()[..10]);
        store.fs().write_atomic(&path, &bytes).unwrap();
        let times = log(&store, &r).times().unwrap().unwrap();
        assert_eq!(times.len().unwrap(), 1);
        assert_eq!(times.time_at(8).unwrap(), Some(7));
    }

    /// A sidecar file that counts the bytes read from it.
    struct Counted {
        bytes: Vec<u8>,
        read: Arc<std::sync::atomic::AtomicU64>,
    }

    impl ReadAt for Counted {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            let start = (offset as usize).min(self.bytes.len());
            let n = buf.len().min(self.bytes.len() - start);
            buf[..n].copy_from_slice(&self.bytes[start..start + n]);
            self.read.fetch_add(n as u64, Ordering::Relaxed);
            Ok(n)
        }
        fn size(&self) -> io::Result<u64> {
            Ok(self.bytes.len() as u64)
        }
    }

    #[test]
    fn a_cursor_jumping_over_a_million_records_reads_a_few_blocks() {
        // One record per byte: a job that wrote its log a byte at a time.
        let mut bytes = MAGIC.to_vec();
        for end in 1..=1_000_000u64 {
            bytes.extend(
                TimeRecord {
                    end,
                    ms: end as i64,
                }
                .encode(),
            );
        }
        let read = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let times = LogTimes {
            file: Box::new(Counted {
                bytes,
                read: read.clone(),
            }),
            what: "reading a sidecar".into(),
        };
        let mut cursor = times.cursor();
        assert_eq!(cursor.time_at(10).unwrap(), Some(11));
        read.store(0, Ordering::Relaxed);
        assert_eq!(cursor.time_at(900_000).unwrap(), Some(900_001));
        assert_eq!(cursor.time_at(900_005).unwrap(), Some(900_006));
        let n = read.load(Ordering::Relaxed);
        // A walk would read all 900,000 records (14 MB); the bound is a
        // couple of blocks and a search.
        assert!(n < 4 * (BLOCK * RECORD_LEN) as u64, "read {n} bytes");
    }

    proptest! {
        /// The cursor and the binary search agree with the rule of
        /// `log_times::time_of` for any writes and any order of lookups.
        #[test]
        fn lookups_follow_the_one_rule(
            writes in proptest::collection::vec((1u64..5000, 0i64..3), 0..1500),
            offsets in proptest::collection::vec(0u64..2_000_000, 1..60),
        ) {
            let (store, r) = fixture();
            let path = store.root().job_log_times(&r.run_id, &r.jobs[0].id, LogFile::Guest);
            let clock = Arc::new(Ticks(AtomicI64::new(1_000)));
            let sidecar = Box::new(store.fs().open_append(&path).unwrap());
            let arrivals = Arrivals::create(sidecar, 0, clock.clone()).unwrap();
            for (n, tick) in &writes {
                clock.0.fetch_add(*tick, Ordering::SeqCst);
                arrivals.advance(*n);
            }
            drop(arrivals);
            let times = log(&store, &r).times().unwrap().unwrap();
            let all: Vec<TimeRecord> = (0..times.len().unwrap())
                .map(|i| times.record(i).unwrap().unwrap())
                .collect();
            let mut sorted = offsets.clone();
            sorted.sort_unstable();
            let mut cursor = log(&store, &r).times().unwrap().unwrap().cursor();
            for o in sorted.iter().chain(&offsets) {
                let want = time_of(&all, *o);
                prop_assert_eq!(times.time_at(*o).unwrap(), want);
                prop_assert_eq!(cursor.time_at(*o).unwrap(), want);
            }
        }
    }
}

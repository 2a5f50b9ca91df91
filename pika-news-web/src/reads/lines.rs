//! [`LineIndex`]: line numbers of positions in job logs, so the viewer can
//! show a huge log's tail with its real line numbers and open a window at a
//! given line.
//!
//! Counting the lines before the tail of a 1 GiB log means reading it once;
//! the index keeps, for each log it has counted, how many lines there are
//! before every mebibyte, so the next question about the same log only reads
//! what was added since (logs only grow) and at most one mebibyte more. It
//! remembers a bounded number of logs, dropping the least recently used.
//!
//! A job can make its log anything: holes of a sparse file (`truncate -s
//! 1T`) are skipped (`SEEK_DATA`: a hole has no newline), and one request
//! reads at most a [`Bound`] of data and stops when its request is gone;
//! past that the answer is "not known" (the page shows `line ?`), and what
//! was counted is kept for the next request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use pikaci_core::{JobId, LogFile, RunId};
use pikaci_store::{LogReader, ReadAt, StoreError};

use crate::db::LaneRunId;

/// A checkpoint every this many bytes.
const CHECKPOINT: u64 = 1 << 20;
/// How many logs are remembered.
const CAPACITY: usize = 128;

/// Which log: the key of its counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum LogKey {
    /// A job's log in the state root.
    Job(RunId, JobId, LogFile),
    /// A lane run's own log.
    Lane(LaneRunId),
}

/// How much data one request may count: past it, line numbers are not
/// known (a 1 GiB log is counted in about 0.3 s here; a larger one takes
/// several requests, each adding to what is kept).
pub(crate) const COUNT_BYTES: u64 = 2 << 30;

/// Reads a log by position: what counting needs ([`LogReader`] in the
/// server, a byte slice in tests).
pub(crate) trait ReadLog {
    /// Reads into `buf` from `offset`; 0 at the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, StoreError>;
    /// Where data starts at or after `offset` (holes skipped); `None` when
    /// only a hole is left. By default there are no holes.
    fn next_data(&self, offset: u64) -> Result<Option<u64>, StoreError> {
        Ok(Some(offset))
    }
}

impl ReadLog for LogReader {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, StoreError> {
        LogReader::read_at(self, buf, offset)
    }
    fn next_data(&self, offset: u64) -> Result<Option<u64>, StoreError> {
        LogReader::next_data(self, offset)
    }
}

fn lane_log_error(source: std::io::Error) -> StoreError {
    StoreError::Io {
        what: "reading a lane log".into(),
        source,
    }
}

impl ReadLog for Box<dyn ReadAt> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, StoreError> {
        ReadAt::read_at(&**self, buf, offset).map_err(lane_log_error)
    }
    fn next_data(&self, offset: u64) -> Result<Option<u64>, StoreError> {
        ReadAt::next_data(&**self, offset).map_err(lane_log_error)
    }
}

/// What one request may still count: bytes of data (holes are free), until
/// its request is gone.
#[derive(Debug)]
pub(crate) struct Bound<'a> {
    left: u64,
    gone: &'a AtomicBool,
}

impl<'a> Bound<'a> {
    /// At most `bytes` of data, while `gone` is false.
    pub(crate) fn new(bytes: u64, gone: &'a AtomicBool) -> Self {
        Self { left: bytes, gone }
    }

    /// Takes `n` bytes from the bound; false when it is spent or the
    /// request is gone (nothing is taken then).
    fn take(&mut self, n: u64) -> bool {
        if self.gone.load(Ordering::Relaxed) || self.left < n {
            return false;
        }
        self.left -= n;
        true
    }
}

/// Where line `n` starts, as far as the bound let the count go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineStart {
    /// At this byte.
    At(u64),
    /// The log has fewer lines.
    Missing,
    /// The count stopped at its bound before it knew.
    Unknown,
}

/// Newlines in `bytes` (memchr's vectorized count).
fn newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// The counts of one log.
#[derive(Debug, Default)]
struct Counts {
    /// `(offset, lines before it)` at every multiple of [`CHECKPOINT`].
    checkpoints: Vec<(u64, u64)>,
    /// How far the log has been counted.
    end: u64,
    /// Lines before `end`.
    lines_at_end: u64,
    /// When it was last used (a counter), for eviction.
    used: u64,
}

impl Counts {
    /// Counts on to `target` (not past what the log holds), holes skipped;
    /// false when the bound stopped it first (what was counted is kept).
    fn extend(
        &mut self,
        log: &dyn ReadLog,
        target: u64,
        buf: &mut [u8],
        bound: &mut Bound<'_>,
    ) -> Result<bool, StoreError> {
        while self.end < target {
            let data = log.next_data(self.end)?.unwrap_or(target);
            if data > self.end {
                // A hole: no newline in it. Marked, so a later count from
                // a checkpoint does not walk it again.
                self.end = data.min(target);
                self.checkpoints.push((self.end, self.lines_at_end));
                continue;
            }
            let next_mark = (self.end / CHECKPOINT + 1) * CHECKPOINT;
            let want = (target.min(next_mark) - self.end) as usize;
            let want = want.min(buf.len());
            if !bound.take(want as u64) {
                return Ok(false);
            }
            let n = log.read_at(&mut buf[..want], self.end)?;
            if n == 0 {
                break;
            }
            self.lines_at_end += newlines(&buf[..n]);
            self.end += n as u64;
            if self.end.is_multiple_of(CHECKPOINT) {
                self.checkpoints.push((self.end, self.lines_at_end));
            }
        }
        Ok(true)
    }

    /// The last known count at or before `offset`.
    fn base(&self, offset: u64) -> (u64, u64) {
        if self.end <= offset {
            return (self.end, self.lines_at_end);
        }
        let i = self.checkpoints.partition_point(|&(o, _)| o <= offset);
        i.checked_sub(1).map_or((0, 0), |i| self.checkpoints[i])
    }
}

/// Line numbers of positions in logs, remembered across requests. Cheap to
/// clone: clones share what was counted.
#[derive(Debug, Clone, Default)]
pub(crate) struct LineIndex {
    logs: Arc<Mutex<HashMap<LogKey, Arc<Mutex<Counts>>>>>,
    clock: Arc<Mutex<u64>>,
}

impl LineIndex {
    /// The counts of `key`, made fresh when the log is smaller than what was
    /// counted (a different file under the same name).
    fn counts(&self, key: &LogKey, size: u64) -> Arc<Mutex<Counts>> {
        let used = {
            let mut clock = self.clock.lock().unwrap_or_else(|e| e.into_inner());
            *clock += 1;
            *clock
        };
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        if !logs.contains_key(key) && logs.len() >= CAPACITY {
            let oldest = logs
                .iter()
                .min_by_key(|(_, c)| c.lock().map_or(0, |c| c.used))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                logs.remove(&k);
            }
        }
        let counts = logs.entry(key.clone()).or_default().clone();
        drop(logs);
        {
            let mut c = counts.lock().unwrap_or_else(|e| e.into_inner());
            if c.end > size {
                *c = Counts::default();
            }
            c.used = used;
        }
        counts
    }

    /// How many lines end before `offset` (so the line at `offset` has
    /// number this + 1); `None` when `bound` stopped the count first.
    /// Blocking: reads what was not counted yet.
    pub(crate) fn lines_before(
        &self,
        key: &LogKey,
        log: &dyn ReadLog,
        size: u64,
        offset: u64,
        bound: &mut Bound<'_>,
    ) -> Result<Option<u64>, StoreError> {
        let offset = offset.min(size);
        let counts = self.counts(key, size);
        let mut c = counts.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = vec![0u8; CHECKPOINT as usize];
        if !c.extend(log, offset, &mut buf, bound)? {
            return Ok(None);
        }
        let (at, lines) = c.base(offset);
        drop(c);
        // From the checkpoint to `offset`: a count of its own, not kept.
        let mut rest = Counts {
            end: at,
            lines_at_end: lines,
            ..Counts::default()
        };
        Ok(rest
            .extend(log, offset, &mut buf, bound)?
            .then_some(rest.lines_at_end))
    }

    /// Where line `n` (from 1) starts. Blocking: counts the whole log once
    /// (as far as `bound` lets it).
    pub(crate) fn line_start(
        &self,
        key: &LogKey,
        log: &dyn ReadLog,
        size: u64,
        n: u64,
        bound: &mut Bound<'_>,
    ) -> Result<LineStart, StoreError> {
        if n <= 1 {
            return Ok(LineStart::At(0));
        }
        let wanted = n - 1; // newlines before the line's start
        let counts = self.counts(key, size);
        let mut c = counts.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = vec![0u8; CHECKPOINT as usize];
        if !c.extend(log, size, &mut buf, bound)? {
            return Ok(LineStart::Unknown);
        }
        if c.lines_at_end < wanted {
            return Ok(LineStart::Missing);
        }
        // The last checkpoint with fewer newlines before it than wanted.
        let i = c.checkpoints.partition_point(|&(_, l)| l < wanted);
        let (mut at, mut lines) = i.checked_sub(1).map_or((0, 0), |i| c.checkpoints[i]);
        drop(c);
        loop {
            match log.next_data(at)? {
                None => return Ok(LineStart::Missing),
                Some(data) => at = at.max(data),
            }
            if !bound.take(buf.len() as u64) {
                return Ok(LineStart::Unknown);
            }
            let n = log.read_at(&mut buf, at)?;
            if n == 0 {
                return Ok(LineStart::Missing);
            }
            for (i, &b) in buf[..n].iter().enumerate() {
                if b == b'\n' {
                    lines += 1;
                    if lines == wanted {
                        return Ok(LineStart::At(at + i as u64 + 1));
                    }
                }
            }
            at += n as u64;
        }
    }
}

/// A log held in memory, for tests.
#[cfg(test)]
pub(crate) struct BytesLog(pub(crate) Vec<u8>);

#[cfg(test)]
impl ReadLog for BytesLog {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, StoreError> {
        let start = (offset as usize).min(self.0.len());
        let n = buf.len().min(self.0.len() - start);
        buf[..n].copy_from_slice(&self.0[start..start + n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::BytesLog as Bytes;
    use super::*;

    static NOT_GONE: AtomicBool = AtomicBool::new(false);

    /// No bound to speak of.
    fn free() -> Bound<'static> {
        Bound::new(u64::MAX, &NOT_GONE)
    }

    /// A log of `size` bytes, all a hole but `data` at `at`, that counts
    /// the bytes read from it.
    struct Sparse {
        size: u64,
        at: u64,
        data: Vec<u8>,
        read: std::sync::atomic::AtomicU64,
    }

    impl ReadLog for Sparse {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, StoreError> {
            let n = buf.len().min(self.size.saturating_sub(offset) as usize);
            for (i, b) in buf[..n].iter_mut().enumerate() {
                let o = offset + i as u64;
                *b = if o >= self.at && o < self.at + self.data.len() as u64 {
                    self.data[(o - self.at) as usize]
                } else {
                    0
                };
            }
            self.read.fetch_add(n as u64, Ordering::Relaxed);
            Ok(n)
        }
        fn next_data(&self, offset: u64) -> Result<Option<u64>, StoreError> {
            let end = self.at + self.data.len() as u64;
            Ok(if offset < self.at {
                Some(self.at)
            } else if offset < end {
                Some(offset)
            } else {
                None
            })
        }
    }

    #[test]
    fn holes_are_skipped_so_a_terabyte_of_them_costs_nothing() {
        let size = 1 << 40;
        let log = Sparse {
            size,
            at: size / 2,
            data: b"one\ntwo\nthree\n".to_vec(),
            read: Default::default(),
        };
        let index = LineIndex::default();
        let k = key("sparse");
        assert_eq!(
            index
                .lines_before(&k, &log, size, size, &mut free())
                .unwrap(),
            Some(3)
        );
        assert_eq!(
            index.line_start(&k, &log, size, 3, &mut free()).unwrap(),
            LineStart::At(size / 2 + 8)
        );
        assert!(
            log.read.load(Ordering::Relaxed) <= 3 * CHECKPOINT,
            "read {} bytes",
            log.read.load(Ordering::Relaxed)
        );
    }

    #[test]
    fn a_count_stops_at_its_bound_or_when_its_request_is_gone_and_keeps_what_it_counted() {
        let (log, starts) = log(20_000);
        let size = log.0.len() as u64;
        let index = LineIndex::default();
        let k = key("bounded");
        let mut small = Bound::new(CHECKPOINT, &NOT_GONE);
        assert_eq!(
            index
                .lines_before(&k, &log, size, size, &mut small)
                .unwrap(),
            None
        );
        assert_eq!(
            index
                .line_start(
                    &k,
                    &log,
                    size,
                    20_000,
                    &mut Bound::new(CHECKPOINT, &NOT_GONE)
                )
                .unwrap(),
            LineStart::Unknown
        );
        // The next requests go on from there and get there.
        let mut answer = None;
        for _ in 0..10 {
            answer = index
                .lines_before(&k, &log, size, size, &mut Bound::new(CHECKPOINT, &NOT_GONE))
                .unwrap();
            if answer.is_some() {
                break;
            }
        }
        assert_eq!(answer, Some(20_000));
        let gone = AtomicBool::new(true);
        let other = key("gone");
        assert_eq!(
            index
                .lines_before(
                    &other,
                    &log,
                    size,
                    starts[19_000],
                    &mut Bound::new(u64::MAX, &gone)
                )
                .unwrap(),
            None
        );
    }

    fn key(job: &str) -> LogKey {
        LogKey::Job(
            "20260324T161238Z-1a2b3c4d".parse().unwrap(),
            job.parse().unwrap(),
            LogFile::Guest,
        )
    }

    /// Lines `0\n1\n2\n...` of varied lengths, past several checkpoints.
    fn log(lines: usize) -> (Bytes, Vec<u64>) {
        let mut bytes = Vec::new();
        let mut starts = Vec::new();
        for i in 0..lines {
            starts.push(bytes.len() as u64);
            bytes.extend(std::iter::repeat_n(b'x', i % 300));
            bytes.push(b'\n');
        }
        (Bytes(bytes), starts)
    }

    #[test]
    fn counts_lines_before_any_offset_and_finds_line_starts() {
        let (log, starts) = log(20_000);
        let size = log.0.len() as u64;
        assert!(size > 2 * CHECKPOINT);
        let index = LineIndex::default();
        let k = key("a");
        for (n, &start) in starts.iter().enumerate().step_by(997) {
            assert_eq!(
                index
                    .lines_before(&k, &log, size, start, &mut free())
                    .unwrap(),
                Some(n as u64)
            );
            assert_eq!(
                index
                    .line_start(&k, &log, size, n as u64 + 1, &mut free())
                    .unwrap(),
                LineStart::At(start),
                "line {}",
                n + 1
            );
        }
        assert_eq!(
            index
                .lines_before(&k, &log, size, size, &mut free())
                .unwrap(),
            Some(20_000)
        );
        assert_eq!(
            index
                .line_start(&k, &log, size, 20_001, &mut free())
                .unwrap(),
            LineStart::At(size)
        );
        assert_eq!(
            index
                .line_start(&k, &log, size, 20_002, &mut free())
                .unwrap(),
            LineStart::Missing
        );
    }

    #[test]
    fn a_growing_log_is_counted_on_and_a_smaller_one_afresh() {
        let (full, _) = log(12_000);
        let index = LineIndex::default();
        let k = key("b");
        let half = 6_000usize;
        let cut = full
            .0
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'\n')
            .nth(half - 1)
            .unwrap()
            .0
            + 1;
        let early = Bytes(full.0[..cut].to_vec());
        assert_eq!(
            index
                .lines_before(&k, &early, cut as u64, cut as u64, &mut free())
                .unwrap(),
            Some(half as u64)
        );
        let size = full.0.len() as u64;
        assert_eq!(
            index
                .lines_before(&k, &full, size, size, &mut free())
                .unwrap(),
            Some(12_000)
        );
        // Same key, another (smaller) file: counted again, not trusted.
        let other = Bytes(b"a\nb\n".to_vec());
        assert_eq!(
            index.lines_before(&k, &other, 4, 4, &mut free()).unwrap(),
            Some(2)
        );
    }

    #[test]
    fn remembers_a_bounded_number_of_logs() {
        let index = LineIndex::default();
        let log = Bytes(b"1\n2\n".to_vec());
        for i in 0..CAPACITY + 10 {
            index
                .lines_before(&key(&format!("j{i}")), &log, 4, 4, &mut free())
                .unwrap();
        }
        assert_eq!(index.logs.lock().unwrap().len(), CAPACITY);
    }
}

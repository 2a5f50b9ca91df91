//! [`LineIndex`]: line numbers of positions in job logs, so the viewer can
//! show a huge log's tail with its real line numbers and open a window at a
//! given line.
//!
//! Counting the lines before the tail of a 1 GiB log means reading it once;
//! the index keeps, for each log it has counted, how many lines there are
//! before every mebibyte, so the next question about the same log only reads
//! what was added since (logs only grow) and at most one mebibyte more. It
//! remembers a bounded number of logs, dropping the least recently used.

use std::collections::HashMap;
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

/// Reads a log by position: what counting needs ([`LogReader`] in the
/// server, a byte slice in tests).
pub(crate) trait ReadLog {
    /// Reads into `buf` from `offset`; 0 at the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, StoreError>;
}

impl ReadLog for LogReader {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, StoreError> {
        LogReader::read_at(self, buf, offset)
    }
}

impl ReadLog for Box<dyn ReadAt> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, StoreError> {
        ReadAt::read_at(&**self, buf, offset).map_err(|source| StoreError::Io {
            what: "reading a lane log".into(),
            source,
        })
    }
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
    /// Counts on to `target` (not past what the log holds).
    fn extend(&mut self, log: &dyn ReadLog, target: u64, buf: &mut [u8]) -> Result<(), StoreError> {
        while self.end < target {
            let next_mark = (self.end / CHECKPOINT + 1) * CHECKPOINT;
            let want = (target.min(next_mark) - self.end) as usize;
            let want = want.min(buf.len());
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
        Ok(())
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
    /// number this + 1). Blocking: reads what was not counted yet.
    pub(crate) fn lines_before(
        &self,
        key: &LogKey,
        log: &dyn ReadLog,
        size: u64,
        offset: u64,
    ) -> Result<u64, StoreError> {
        let offset = offset.min(size);
        let counts = self.counts(key, size);
        let mut c = counts.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = vec![0u8; CHECKPOINT as usize];
        c.extend(log, offset, &mut buf)?;
        let (mut at, mut lines) = c.base(offset);
        while at < offset {
            let want = ((offset - at) as usize).min(buf.len());
            let n = log.read_at(&mut buf[..want], at)?;
            if n == 0 {
                break;
            }
            lines += newlines(&buf[..n]);
            at += n as u64;
        }
        Ok(lines)
    }

    /// Where line `n` (from 1) starts; `None` when the log has fewer lines.
    /// Blocking: counts the whole log once.
    pub(crate) fn line_start(
        &self,
        key: &LogKey,
        log: &dyn ReadLog,
        size: u64,
        n: u64,
    ) -> Result<Option<u64>, StoreError> {
        if n <= 1 {
            return Ok(Some(0));
        }
        let wanted = n - 1; // newlines before the line's start
        let counts = self.counts(key, size);
        let mut c = counts.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf = vec![0u8; CHECKPOINT as usize];
        c.extend(log, size, &mut buf)?;
        if c.lines_at_end < wanted {
            return Ok(None);
        }
        // The last checkpoint with fewer newlines before it than wanted.
        let i = c.checkpoints.partition_point(|&(_, l)| l < wanted);
        let (mut at, mut lines) = i.checked_sub(1).map_or((0, 0), |i| c.checkpoints[i]);
        drop(c);
        loop {
            let n = log.read_at(&mut buf, at)?;
            if n == 0 {
                return Ok(None);
            }
            for (i, &b) in buf[..n].iter().enumerate() {
                if b == b'\n' {
                    lines += 1;
                    if lines == wanted {
                        return Ok(Some(at + i as u64 + 1));
                    }
                }
            }
            at += n as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Bytes(Vec<u8>);

    impl ReadLog for Bytes {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize, StoreError> {
            let start = (offset as usize).min(self.0.len());
            let n = buf.len().min(self.0.len() - start);
            buf[..n].copy_from_slice(&self.0[start..start + n]);
            Ok(n)
        }
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
            assert_eq!(index.lines_before(&k, &log, size, start).unwrap(), n as u64);
            assert_eq!(
                index.line_start(&k, &log, size, n as u64 + 1).unwrap(),
                Some(start),
                "line {}",
                n + 1
            );
        }
        assert_eq!(index.lines_before(&k, &log, size, size).unwrap(), 20_000);
        assert_eq!(
            index.line_start(&k, &log, size, 20_001).unwrap(),
            Some(size)
        );
        assert_eq!(index.line_start(&k, &log, size, 20_002).unwrap(), None);
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
                .lines_before(&k, &early, cut as u64, cut as u64)
                .unwrap(),
            half as u64
        );
        let size = full.0.len() as u64;
        assert_eq!(index.lines_before(&k, &full, size, size).unwrap(), 12_000);
        // Same key, another (smaller) file: counted again, not trusted.
        let other = Bytes(b"a\nb\n".to_vec());
        assert_eq!(index.lines_before(&k, &other, 4, 4).unwrap(), 2);
    }

    #[test]
    fn remembers_a_bounded_number_of_logs() {
        let index = LineIndex::default();
        let log = Bytes(b"1\n2\n".to_vec());
        for i in 0..CAPACITY + 10 {
            index
                .lines_before(&key(&format!("j{i}")), &log, 4, 4)
                .unwrap();
        }
        assert_eq!(index.logs.lock().unwrap().len(), CAPACITY);
    }
}

//! Arrival times for [`TextCursor`](super::text::TextCursor): from a log's
//! sidecar ([`Timed`], file reads: use on the blocking pool), or from the
//! line times a hub worked out for one piece ([`PieceTimes`], no I/O).

use crate::reads::ServedFs;
use pikaci_store::{JobLog, LogTimes, TimesCursor};

use super::text::LineTimes;

/// A log's arrival times, read from its sidecar as the log is walked.
#[derive(Debug)]
pub(crate) struct Timed {
    log: JobLog<ServedFs>,
    cursor: Option<TimesCursor>,
}

impl Timed {
    /// The times of `log`, not opened yet.
    pub(crate) fn new(log: JobLog<ServedFs>) -> Self {
        Self { log, cursor: None }
    }

    /// Opens the sidecar if it is not open yet: a job that had not started
    /// has none, and gets it with its log. Once per piece, not per line.
    pub(crate) fn refresh(&mut self) {
        if self.cursor.is_none() {
            self.cursor = self.log.times().ok().flatten().map(LogTimes::cursor);
        }
    }
}

impl LineTimes for Timed {
    fn time_at(&mut self, offset: u64) -> Option<i64> {
        self.cursor.as_mut()?.time_at(offset).ok().flatten()
    }
}

/// The times of the lines that start in one piece, as `(offset, ms)` sorted
/// by offset.
#[derive(Debug)]
pub(crate) struct PieceTimes<'a>(pub(crate) &'a [(u64, i64)]);

impl LineTimes for PieceTimes<'_> {
    fn time_at(&mut self, offset: u64) -> Option<i64> {
        self.0
            .binary_search_by_key(&offset, |(o, _)| *o)
            .ok()
            .map(|i| self.0[i].1)
    }
}

/// The offsets at which lines start in `bytes`, whose first byte is at
/// `start` and starts a line if `at_line_start`.
pub(crate) fn line_starts(bytes: &[u8], start: u64, at_line_start: bool) -> Vec<u64> {
    let mut out = Vec::new();
    if at_line_start && !bytes.is_empty() {
        out.push(start);
    }
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' && i + 1 < bytes.len() {
            out.push(start + i as u64 + 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_starts_and_piece_times() {
        assert_eq!(line_starts(b"a\nbc\n", 10, true), [10, 12]);
        assert_eq!(line_starts(b"a\nbc\nd", 10, false), [12, 15]);
        assert_eq!(line_starts(b"", 10, true), Vec::<u64>::new());
        let times = [(10, 1), (12, 2)];
        let mut p = PieceTimes(&times);
        assert_eq!(p.time_at(12), Some(2));
        assert_eq!(p.time_at(11), None);
    }
}

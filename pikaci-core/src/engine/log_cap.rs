//! A job's `guest.log` is capped at its `max_log_bytes`.
//!
//! Past the cap, output is dropped and one marker line is appended; the job
//! goes on (its output is still read, so it never blocks on a full pipe), and
//! its record says the log was truncated. The engine wraps each job's
//! `guest.log` in a [`CappedSink`]: writes through it are cut there, and an
//! executor that writes to the file directly (through
//! [`LogSink::as_file`]) asks [`LogSink::cap`] how much it may write and
//! reports back what it did.

use std::io::{self, Write};

use super::seams::LogSink;

/// The line appended to a log cut at `limit` bytes. It starts on a line of
/// its own: with a newline first when the log's last byte was not one.
pub fn truncation_marker(limit: u64, after_newline: bool) -> String {
    format!(
        "{}[pikaci] guest.log reached max_log_bytes ({limit} bytes): the rest of the job's output was dropped\n",
        if after_newline { "" } else { "\n" }
    )
}

/// How much of a log's cap is used, and whether it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCap {
    limit: u64,
    written: u64,
    dropped: u64,
    truncated: bool,
}

impl LogCap {
    /// A cap of `limit` bytes, none used yet.
    pub fn new(limit: u64) -> Self {
        Self {
            limit,
            written: 0,
            dropped: 0,
            truncated: false,
        }
    }

    /// The cap, in bytes.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// How many more bytes of output the log takes.
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.written)
    }

    /// Whether output was dropped (and the marker written).
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// How many bytes of output were dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Takes in what a writer that went around the sink did: it wrote
    /// `written` bytes of output, dropped `dropped` more, and, when it cut
    /// the log, wrote the marker.
    pub fn note_direct(&mut self, written: u64, dropped: u64, cut: bool) {
        self.written += written;
        self.dropped += dropped;
        self.truncated |= cut;
    }
}

/// A log sink with a cap: what goes past it is dropped, with one marker line.
pub struct CappedSink {
    inner: Box<dyn LogSink>,
    cap: LogCap,
    /// Whether the last byte written was a newline (or nothing was written).
    at_line_start: bool,
}

impl CappedSink {
    /// `inner`, capped at `limit` bytes of output.
    pub fn new(inner: Box<dyn LogSink>, limit: u64) -> Self {
        Self {
            inner,
            cap: LogCap::new(limit),
            at_line_start: true,
        }
    }

    /// Whether output was dropped.
    pub fn truncated(&self) -> bool {
        self.cap.truncated()
    }

    /// The cap and how much of it was used.
    pub fn usage(&self) -> &LogCap {
        &self.cap
    }
}

impl Write for CappedSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let allowed = buf
            .len()
            .min(usize::try_from(self.cap.remaining()).unwrap_or(usize::MAX));
        if allowed > 0 {
            self.inner.write_all(&buf[..allowed])?;
            self.cap.written += allowed as u64;
            self.at_line_start = buf[allowed - 1] == b'\n';
        }
        let rest = (buf.len() - allowed) as u64;
        if rest > 0 {
            if !self.cap.truncated {
                self.cap.truncated = true;
                let marker = truncation_marker(self.cap.limit, self.at_line_start);
                // The marker is best effort: a log that fails is reported by
                // its writes, and the output is dropped either way.
                let _ = self.inner.write_all(marker.as_bytes());
            }
            self.cap.dropped += rest;
        }
        // Dropped output counts as taken: the writer keeps draining the job.
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl LogSink for CappedSink {
    fn as_file(&self) -> Option<&std::fs::File> {
        self.inner.as_file()
    }

    fn arrivals(&self) -> Option<crate::log_times::Arrivals> {
        self.inner.arrivals()
    }

    fn cap(&mut self) -> Option<&mut LogCap> {
        Some(&mut self.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::seams::VecSink;

    fn text(sink: &VecSink) -> String {
        String::from_utf8(sink.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn output_past_the_cap_is_dropped_with_one_marker_line() {
        let inner = VecSink::default();
        let mut sink = CappedSink::new(Box::new(inner.clone()), 10);
        sink.write_all(b"12345\n").unwrap();
        assert!(!sink.truncated());
        sink.write_all(b"6789abcdef").unwrap();
        sink.write_all(b"more and more\n").unwrap();
        assert!(sink.truncated());
        assert_eq!(
            text(&inner),
            format!("12345\n6789{}", truncation_marker(10, false))
        );
        assert_eq!(sink.usage().dropped(), 6 + 14);
        assert!(text(&inner).ends_with("was dropped\n"));
        assert!(text(&inner).contains("6789\n[pikaci] guest.log reached"));
    }

    #[test]
    fn exactly_the_cap_is_not_a_truncation_and_a_line_end_needs_no_newline() {
        let inner = VecSink::default();
        let mut sink = CappedSink::new(Box::new(inner.clone()), 4);
        sink.write_all(b"abc\n").unwrap();
        assert!(!sink.truncated());
        sink.write_all(b"x").unwrap();
        assert!(sink.truncated());
        assert_eq!(text(&inner), format!("abc\n{}", truncation_marker(4, true)));
        assert!(!text(&inner).contains("\n\n"));
    }

    #[test]
    fn a_direct_writer_reports_through_the_cap() {
        let mut sink = CappedSink::new(Box::new(VecSink::default()), 100);
        let cap = sink.cap().unwrap();
        assert_eq!(cap.remaining(), 100);
        cap.note_direct(100, 5, true);
        assert!(sink.truncated());
        assert_eq!(sink.cap().unwrap().remaining(), 0);
    }
}

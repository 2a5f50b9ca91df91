//! [`CappedSink`]: a job log that takes output up to its cap (see
//! [`LogCap`]) and drops the rest, with one marker line.

use std::io::{self, Write};

use super::log_cap::{Admit, LogCap};
use crate::process::LogSink;

/// A log sink with a cap: what goes past it is dropped, with one marker line
/// (the cutting rule is [`LogCap::admit`]).
pub struct CappedSink {
    inner: Box<dyn LogSink>,
    cap: LogCap,
}

impl CappedSink {
    /// `inner`, capped at `limit` bytes of output.
    pub fn new(inner: Box<dyn LogSink>, limit: u64) -> Self {
        Self {
            inner,
            cap: LogCap::new(limit),
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
        let Admit { keep, marker } = self.cap.admit(buf);
        if keep > 0
            && let Err(e) = self.inner.write_all(&buf[..keep])
        {
            self.cap.lost(keep as u64);
            return Err(e);
        }
        if let Some(marker) = marker {
            // The marker is best effort: a log that fails is reported by
            // its writes, and the output is dropped either way.
            let _ = self.inner.write_all(marker.as_bytes());
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
    use crate::process::VecSink;
    use crate::process::log_cap::truncation_marker;

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
    fn a_direct_writer_works_on_the_sinks_own_cap() {
        let mut sink = CappedSink::new(Box::new(VecSink::default()), 100);
        let cap = sink.cap().unwrap();
        assert_eq!(cap.remaining(), 100);
        cap.spliced(100);
        assert!(cap.admit(b"more").marker.is_some());
        assert!(sink.truncated());
        assert_eq!(sink.cap().unwrap().remaining(), 0);
    }
}

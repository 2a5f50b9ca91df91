//! [`CappedSink`]: a job log that takes output up to its cap (see
//! [`LogCap`]) and drops the rest, with one marker line.

use std::io::{self, Write};

use super::log_cap::LogCap;
use crate::process::LogSink;

/// A log sink with a cap: what goes past it is dropped, with one marker line
/// (it writes through [`LogCap::write`], the cutting rule).
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
        let inner = &mut self.inner;
        // The marker is best effort: a log that fails is reported by its
        // writes, and the output is dropped either way.
        self.cap.write(buf, |bytes| inner.write_all(bytes))?;
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
    fn a_failing_log_fails_the_write_and_its_bytes_count_as_dropped() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        impl LogSink for Full {}
        let mut sink = CappedSink::new(Box::new(Full), 100);
        assert!(sink.write(b"hello").is_err());
        assert_eq!((sink.usage().written(), sink.usage().dropped()), (0, 5));
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

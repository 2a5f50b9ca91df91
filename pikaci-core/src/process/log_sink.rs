//! [`LogSink`]: an append-only log a job writes while it runs, and
//! [`VecSink`], one in memory.

use crate::process::LogCap;

/// An append-only log a job writes while it runs.
pub trait LogSink: std::io::Write + Send {
    /// The open file behind this sink, when it is one. An executor may hand it
    /// to a child process as stdout/stderr so output goes to disk without a copy.
    fn as_file(&self) -> Option<&std::fs::File> {
        None
    }

    /// Where to record when bytes arrived, when the log keeps a timestamp
    /// sidecar ([`log_times`](crate::log_times)). The sink records its own
    /// writes; an executor that writes into [`as_file`](Self::as_file)
    /// itself reports what it appended through this.
    fn arrivals(&self) -> Option<crate::log_times::Arrivals> {
        None
    }

    /// The size cap of this log, when it has one. Writes through the sink
    /// honour it by themselves; a writer that goes to [`as_file`](Self::as_file)
    /// directly writes its output by the same rule, [`LogCap::write`], on this
    /// cap (or a copy it puts back), and counts what it moved unseen with
    /// [`LogCap::spliced`].
    fn cap(&mut self) -> Option<&mut LogCap> {
        None
    }
}

/// A sink that keeps what is written in memory (for tests and embedding).
#[derive(Debug, Default, Clone)]
pub struct VecSink(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for VecSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("log buffer lock poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogSink for VecSink {}

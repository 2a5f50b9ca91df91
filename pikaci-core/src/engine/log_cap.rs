//! A job's `guest.log` is capped at its `max_log_bytes`: [`LogCap`] counts
//! what the log took and dropped, and [`truncation_marker`] is the one line
//! that ends a log cut at its cap.
//!
//! Past the cap, output is dropped and the marker appended; the job goes on
//! (its output is still read, so it never blocks on a full pipe), and its
//! record says the log was truncated. The engine wraps each job's
//! `guest.log` in a [`CappedSink`](super::CappedSink): writes through it are
//! cut there, and an executor that writes to the file directly (through
//! [`LogSink::as_file`](super::LogSink::as_file)) asks
//! [`LogSink::cap`](super::LogSink::cap) how much it may write and reports
//! back what it did.

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
    pub(super) limit: u64,
    pub(super) written: u64,
    pub(super) dropped: u64,
    pub(super) truncated: bool,
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

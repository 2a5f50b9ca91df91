//! A job's `guest.log` is capped at its `max_log_bytes`: [`LogCap`] owns the
//! cutting rule (how much of a piece of output the log keeps, and when the
//! one [`truncation_marker`] line follows it), writes by it
//! ([`LogCap::write`]), and counts what the log took and dropped.
//!
//! Past the cap, output is dropped and the marker appended; the job goes on
//! (its output is still read, so it never blocks on a full pipe), and its
//! record says the log was truncated. The engine wraps each job's
//! `guest.log` in a [`CappedSink`](super::CappedSink), which writes through
//! [`LogCap::write`]; an executor that writes to the file directly (through
//! [`LogSink::as_file`](super::LogSink::as_file)) takes the log's cap
//! ([`LogSink::cap`](super::LogSink::cap)), writes through the same
//! [`LogCap::write`] (and counts what it moved unseen with
//! [`LogCap::spliced`]), and puts the cap back when it is done. The rule's
//! boundary cases are tested here, once.

use std::io;

/// The line appended to a log cut at `limit` bytes. It starts on a line of
/// its own: with a newline first when the log's last byte was not one.
pub fn truncation_marker(limit: u64, after_newline: bool) -> String {
    format!(
        "{}[pikaci] guest.log reached max_log_bytes ({limit} bytes): the rest of the job's output was dropped\n",
        if after_newline { "" } else { "\n" }
    )
}

/// What a log does with one piece of output: write its first `keep` bytes,
/// then `marker` when there is one (the piece crossed the cap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Admit {
    /// How many bytes of the piece to write.
    pub(crate) keep: usize,
    /// The marker line to write after them, once per log.
    pub(crate) marker: Option<String>,
}

/// What [`LogCap::write`] did with one piece of output.
#[derive(Debug)]
pub struct Written {
    /// How many bytes reached the log: the kept part of the piece, and the
    /// marker line when it was written.
    pub bytes: usize,
    /// Why the marker line could not be written, when it could not (the
    /// output is dropped either way).
    pub marker_error: Option<io::Error>,
}

/// How much of a log's cap is used, and whether it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCap {
    limit: u64,
    written: u64,
    dropped: u64,
    truncated: bool,
    /// Whether the last byte written was a newline (or nothing was written).
    at_line_start: bool,
}

impl LogCap {
    /// A cap of `limit` bytes, none used yet.
    pub fn new(limit: u64) -> Self {
        Self {
            limit,
            written: 0,
            dropped: 0,
            truncated: false,
            at_line_start: true,
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

    /// How many bytes of output were written.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// How many bytes of output were dropped.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The cutting rule, for one `piece` of output (what
    /// [`write`](Self::write) writes by): the log keeps what fits
    /// under the cap; the first piece that does not fit is followed by the
    /// marker (on a line of its own), and everything after it is dropped.
    /// Counts the kept bytes as written and the rest as dropped; a writer
    /// whose write then fails says so with [`lost`](Self::lost).
    pub(crate) fn admit(&mut self, piece: &[u8]) -> Admit {
        let keep = piece
            .len()
            .min(usize::try_from(self.remaining()).unwrap_or(usize::MAX));
        if keep > 0 {
            self.written += keep as u64;
            self.at_line_start = piece[keep - 1] == b'\n';
        }
        let rest = (piece.len() - keep) as u64;
        self.dropped += rest;
        let marker = (rest > 0 && !self.truncated).then(|| {
            self.truncated = true;
            truncation_marker(self.limit, self.at_line_start)
        });
        Admit { keep, marker }
    }

    /// Writes one `piece` of output through `out` by the cutting rule
    /// (`admit`): the part that fits, then the marker line
    /// when the piece crossed the cap. A failed write of the kept part is an
    /// error, its bytes counted as [`lost`](Self::lost), and no marker
    /// follows it; a failed marker is only reported in [`Written`].
    pub fn write(
        &mut self,
        piece: &[u8],
        mut out: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<Written> {
        let Admit { keep, marker } = self.admit(piece);
        if keep > 0
            && let Err(e) = out(&piece[..keep])
        {
            self.lost(keep as u64);
            return Err(e);
        }
        let mut written = Written {
            bytes: keep,
            marker_error: None,
        };
        if let Some(marker) = marker {
            match out(marker.as_bytes()) {
                Ok(()) => written.bytes += marker.len(),
                Err(e) => written.marker_error = Some(e),
            }
        }
        Ok(written)
    }

    /// `n` bytes went into the log without being seen (spliced). The log's
    /// last byte is then unknown: a marker after them starts with a newline.
    pub fn spliced(&mut self, n: u64) {
        self.written += n;
        if n > 0 {
            self.at_line_start = false;
        }
    }

    /// `n` bytes counted as written by [`write`](Self::write) never reached
    /// the log (its write failed): they count as dropped.
    pub fn lost(&mut self, n: u64) {
        let n = n.min(self.written);
        self.written -= n;
        self.dropped += n;
    }

    /// `n` bytes of output were read and dropped without being offered to
    /// the log (it had failed).
    pub fn discarded(&mut self, n: u64) {
        self.dropped += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_piece_that_crosses_the_cap_keeps_what_fits_then_one_marker() {
        let mut cap = LogCap::new(10);
        assert_eq!(
            cap.admit(b"12345\n"),
            Admit {
                keep: 6,
                marker: None
            }
        );
        assert_eq!(
            cap.admit(b"6789abcdef"),
            Admit {
                keep: 4,
                marker: Some(truncation_marker(10, false))
            }
        );
        assert_eq!(
            cap.admit(b"more\n"),
            Admit {
                keep: 0,
                marker: None
            }
        );
        assert_eq!((cap.written(), cap.dropped()), (10, 6 + 5));
        assert!(cap.truncated());
    }

    #[test]
    fn exactly_the_cap_is_no_cut_and_a_cut_after_a_newline_needs_none() {
        let mut cap = LogCap::new(4);
        assert_eq!(cap.admit(b"abc\n").marker, None);
        assert!(!cap.truncated());
        assert_eq!(cap.admit(b"x").marker, Some(truncation_marker(4, true)));
    }

    #[test]
    fn spliced_bytes_count_and_make_the_marker_start_a_line() {
        let mut cap = LogCap::new(8);
        cap.admit(b"ab\n");
        cap.spliced(3);
        assert_eq!(cap.remaining(), 2);
        let cut = cap.admit(b"xyz");
        assert_eq!(cut.keep, 2);
        // The last kept byte is known again: `y`, not a newline.
        assert_eq!(cut.marker, Some(truncation_marker(8, false)));
        let mut unseen = LogCap::new(3);
        unseen.spliced(3);
        assert_eq!(unseen.admit(b"z").marker, Some(truncation_marker(3, false)));
    }

    #[test]
    fn lost_and_discarded_bytes_are_dropped() {
        let mut cap = LogCap::new(100);
        cap.admit(b"hello");
        cap.lost(5);
        cap.discarded(7);
        assert_eq!(
            (cap.written(), cap.dropped(), cap.remaining()),
            (0, 12, 100)
        );
    }

    #[test]
    fn write_writes_what_fits_then_the_marker_and_counts_what_reached_the_log() {
        let mut cap = LogCap::new(4);
        let mut log = Vec::new();
        let written = cap
            .write(b"abcdef", |b| {
                log.extend_from_slice(b);
                Ok(())
            })
            .unwrap();
        let marker = truncation_marker(4, false);
        assert_eq!(log, [b"abcd".as_slice(), marker.as_bytes()].concat());
        assert_eq!(written.bytes, 4 + marker.len());
        assert!(written.marker_error.is_none());
        assert_eq!((cap.written(), cap.dropped()), (4, 2));
    }

    #[test]
    fn a_failed_write_is_lost_with_no_marker_and_a_failed_marker_is_reported() {
        let mut cap = LogCap::new(4);
        let mut calls = 0;
        let failed = cap.write(b"abcdef", |_| {
            calls += 1;
            Err(io::Error::other("disk full"))
        });
        assert!(failed.is_err());
        assert_eq!(calls, 1, "no marker after a failed write");
        assert_eq!((cap.written(), cap.dropped()), (0, 6));

        let mut cap = LogCap::new(2);
        let written = cap
            .write(b"xyz", |b| {
                if b.len() > 2 {
                    Err(io::Error::other("disk full"))
                } else {
                    Ok(())
                }
            })
            .unwrap();
        assert_eq!(written.bytes, 2);
        assert!(written.marker_error.is_some());
        assert!(cap.truncated());
    }
}

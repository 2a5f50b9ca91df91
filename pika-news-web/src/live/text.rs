//! Log bytes, arriving in pieces, as text: cut only on character boundaries,
//! invalid bytes replaced, and optionally each line prefixed with its time.
//!
//! Offsets stay byte offsets of the log: [`TextCursor::sent`] is the offset
//! just after the last byte turned into text, which is what a stream names in
//! `id:` and what a client resumes from. A character cut by the end of a
//! piece (at most 3 bytes) waits for the next piece.

use std::borrow::Cow;

use jiff::Timestamp;

/// When the bytes of a log arrived: the time (Unix milliseconds) of the byte
/// at an offset, if known. Asked for offsets that never go down.
pub(crate) trait LineTimes {
    /// The arrival time of the byte at `offset`.
    fn time_at(&mut self, offset: u64) -> Option<i64>;
}

/// The length of the longest prefix of `bytes` that does not end inside a
/// character that the next bytes could still complete.
pub(crate) fn complete_prefix(bytes: &[u8]) -> usize {
    let n = bytes.len();
    for back in 1..=n.min(3) {
        let b = bytes[n - back];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back for its lead
        }
        let needs = match b {
            0xC2..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF4 => 4,
            _ => 1, // ASCII, or a byte that never starts a character
        };
        return if needs > back { n - back } else { n };
    }
    n
}

/// The prefix put before a line in timestamped text: its arrival time in
/// RFC 3339, UTC, milliseconds, then one space:
/// `2026-03-24T16:12:38.123Z `.
pub(crate) fn time_prefix(ms: i64) -> String {
    let t = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
    format!("{} ", t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"))
}

/// Turns a log's bytes into text, piece by piece. Two cursors at the same
/// [`sent`](Self::sent) and [`read`](Self::read) of one log are in the same
/// state (what they hold back is the same bytes of the log), so one can take
/// the other's place: how a hub renders a piece once for all its clients.
#[derive(Debug, Clone)]
pub(crate) struct TextCursor {
    carry: Vec<u8>,
    sent: u64,
    at_line_start: bool,
    last_prefix: Option<(i64, String)>,
}

impl TextCursor {
    /// A cursor at byte `offset` of a log; `at_line_start` says whether that
    /// byte begins a line (offset 0, or the byte before it is a newline).
    pub(crate) fn new(offset: u64, at_line_start: bool) -> Self {
        Self {
            carry: Vec::new(),
            sent: offset,
            at_line_start,
            last_prefix: None,
        }
    }

    /// The offset just after the last byte turned into text.
    pub(crate) fn sent(&self) -> u64 {
        self.sent
    }

    /// The offset just after the last byte pushed (sent, or waiting for the
    /// rest of its character).
    pub(crate) fn read(&self) -> u64 {
        self.sent + self.carry.len() as u64
    }

    /// Takes `bytes`, which follow [`read`](Self::read) in the log, and
    /// returns the text that is now complete (maybe empty). With `times`,
    /// every line that starts in it is prefixed with its time
    /// ([`time_prefix`]); a line whose time is unknown is not.
    pub(crate) fn push(&mut self, bytes: &[u8], times: Option<&mut dyn LineTimes>) -> String {
        let all: Cow<'_, [u8]> = if self.carry.is_empty() {
            Cow::Borrowed(bytes)
        } else {
            let mut joined = std::mem::take(&mut self.carry);
            joined.extend_from_slice(bytes);
            Cow::Owned(joined)
        };
        let cut = complete_prefix(&all);
        let text = self.render(&all[..cut], times);
        self.carry = all[cut..].to_vec();
        text
    }

    /// The bytes still waiting for the rest of a character, decoded as they
    /// are (the log has ended, so they never will be completed).
    pub(crate) fn finish(&mut self, times: Option<&mut dyn LineTimes>) -> String {
        let rest = std::mem::take(&mut self.carry);
        self.render(&rest, times)
    }

    fn render(&mut self, bytes: &[u8], times: Option<&mut dyn LineTimes>) -> String {
        let start = self.sent;
        self.sent += bytes.len() as u64;
        let Some(times) = times else {
            if let Some(last) = bytes.last() {
                self.at_line_start = *last == b'\n';
            }
            return String::from_utf8_lossy(bytes).into_owned();
        };
        let mut out = String::with_capacity(bytes.len() + 32);
        let mut at = 0usize;
        while at < bytes.len() {
            let end = memchr_newline(&bytes[at..]).map_or(bytes.len(), |i| at + i + 1);
            if self.at_line_start
                && let Some(ms) = times.time_at(start + at as u64)
            {
                out.push_str(self.prefix(ms));
            }
            out.push_str(&String::from_utf8_lossy(&bytes[at..end]));
            self.at_line_start = bytes[end - 1] == b'\n';
            at = end;
        }
        out
    }

    fn prefix(&mut self, ms: i64) -> &str {
        if self.last_prefix.as_ref().is_none_or(|(t, _)| *t != ms) {
            self.last_prefix = Some((ms, time_prefix(ms)));
        }
        &self.last_prefix.as_ref().expect("just set").1
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|b| *b == b'\n')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Times from a list of (first offset, ms): each byte gets the time of
    /// the last entry at or before it.
    struct Fixed(Vec<(u64, i64)>);

    impl LineTimes for Fixed {
        fn time_at(&mut self, offset: u64) -> Option<i64> {
            self.0
                .iter()
                .take_while(|(o, _)| *o <= offset)
                .last()
                .map(|(_, ms)| *ms)
        }
    }

    #[test]
    fn a_character_cut_by_a_piece_waits_for_the_rest() {
        let euro = "€".as_bytes(); // 3 bytes
        let mut c = TextCursor::new(0, true);
        assert_eq!(c.push(b"ab", None), "ab");
        assert_eq!(c.push(&euro[..2], None), "");
        assert_eq!((c.sent(), c.read()), (2, 4));
        assert_eq!(c.push(&euro[2..], None), "€");
        assert_eq!(c.sent(), 5);
        // Invalid bytes are replaced; the offsets still count bytes.
        assert_eq!(c.push(b"\xff!\n", None), "\u{fffd}!\n");
        assert_eq!(c.sent(), 8);
        // A lead byte left at the very end is given up as it is.
        assert_eq!(c.push(&euro[..1], None), "");
        assert_eq!(c.finish(None), "\u{fffd}");
        assert_eq!(c.sent(), 9);
    }

    #[test]
    fn the_cut_holds_back_only_what_could_still_be_completed() {
        assert_eq!(complete_prefix(b"abc"), 3);
        assert_eq!(complete_prefix("é".as_bytes()), 2);
        assert_eq!(complete_prefix(&"é".as_bytes()[..1]), 0);
        assert_eq!(complete_prefix(&"😀".as_bytes()[..3]), 0);
        assert_eq!(complete_prefix("😀".as_bytes()), 4);
        assert_eq!(complete_prefix(b"a\xff"), 2);
        assert_eq!(complete_prefix(b"a\x80\x80\x80"), 4);
        assert_eq!(complete_prefix(b""), 0);
    }

    #[test]
    fn lines_get_their_time_and_a_partial_first_line_does_not() {
        let ms = 1_774_368_758_123; // 2026-03-24T16:12:38.123Z
        let mut times = Fixed(vec![(0, ms), (4, ms + 1000)]);
        let mut c = TextCursor::new(0, true);
        let text = c.push(b"one\ntwo\nth", Some(&mut times));
        assert_eq!(
            text,
            "2026-03-24T16:12:38.123Z one\n2026-03-24T16:12:39.123Z two\n2026-03-24T16:12:39.123Z th"
        );
        assert_eq!(c.push(b"ree\n", Some(&mut times)), "ree\n");
        // Starting inside a line: that line has no prefix, the next ones do.
        let mut c = TextCursor::new(2, false);
        assert_eq!(
            c.push(b"e\nx\n", Some(&mut Fixed(vec![(0, ms)]))),
            "e\n2026-03-24T16:12:38.123Z x\n"
        );
        // Unknown times: no prefix.
        let mut c = TextCursor::new(0, true);
        assert_eq!(c.push(b"a\nb\n", Some(&mut Fixed(vec![]))), "a\nb\n");
        assert_eq!(time_prefix(0), "1970-01-01T00:00:00.000Z ");
    }

    proptest! {
        /// However the bytes are cut into pieces, the text is the same as
        /// decoding them whole, and `sent` ends at the total length.
        #[test]
        fn pieces_never_change_the_text(
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
            cuts in proptest::collection::vec(0usize..200, 0..8),
            utf8 in "\\PC{0,60}",
        ) {
            for input in [bytes, utf8.into_bytes()] {
                let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
                cuts.sort_unstable();
                let mut c = TextCursor::new(0, true);
                let mut out = String::new();
                let mut at = 0;
                for cut in cuts.into_iter().chain([input.len()]) {
                    out.push_str(&c.push(&input[at..cut], None));
                    prop_assert!(c.sent() <= c.read() && c.read() - c.sent() <= 3);
                    at = cut;
                }
                out.push_str(&c.finish(None));
                prop_assert_eq!(&out, &String::from_utf8_lossy(&input).into_owned());
                prop_assert_eq!(c.sent(), input.len() as u64);
            }
        }
    }
}

//! [`Window`]: the part of a log the viewer opens with, whole lines with
//! their numbers: the tail by default, or the lines around a given one.
//! What it costs depends on the window, not on the log's size (but for
//! counting lines once, see [`LineIndex`]).

use pikaci_store::StoreError;

use super::lines::{Bound, LineIndex, LineStart, LogKey, ReadLog};
use crate::reads::encoded::read_full;

/// How much of the end of a log the viewer opens with.
pub(crate) const TAIL_BYTES: u64 = 64 * 1024;
/// How much a window opened at a line holds.
const WINDOW_BYTES: u64 = 256 * 1024;
/// How many lines before the one asked for a window shows.
const CONTEXT_LINES: u64 = 20;

/// Where the window is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WindowAt {
    /// The end of the log.
    Tail,
    /// Around this line (from 1).
    Line(u64),
}

/// Whole lines of a log, from `start` to `end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Window {
    /// The first byte shown (the start of a line, but see `cut_first`).
    pub start: u64,
    /// The byte after the last one shown.
    pub end: u64,
    /// The log's size when it was read.
    pub size: u64,
    /// The number of the first line shown (1 when not `numbered`).
    pub first_line: u64,
    /// Whether the lines' numbers are known: false when counting the lines
    /// before them stopped at its bound (the page shows `?`).
    pub numbered: bool,
    /// The lines, without their `\n`, decoded (invalid UTF-8 replaced).
    pub lines: Vec<String>,
    /// Where each line starts in the log.
    pub offsets: Vec<u64>,
    /// Whether the last line has no `\n` yet (the job is still writing it).
    pub open_last: bool,
    /// The bytes of that open last line (0 when there is none).
    pub open_len: u64,
    /// Whether the first line is cut (a tail inside one huge line).
    pub cut_first: bool,
    /// Whether a line was asked for that the log does not have.
    pub line_missing: bool,
}

impl Window {
    /// The window of a log that does not exist (yet).
    pub(crate) fn empty() -> Self {
        Self {
            start: 0,
            end: 0,
            size: 0,
            first_line: 1,
            numbered: true,
            lines: Vec::new(),
            offsets: Vec::new(),
            open_last: false,
            open_len: 0,
            cut_first: false,
            line_missing: false,
        }
    }
}

fn read_span(log: &dyn ReadLog, start: u64, end: u64) -> Result<Vec<u8>, StoreError> {
    let mut bytes = vec![0u8; (end - start) as usize];
    let filled = read_full(&mut bytes, start, &mut |buf, at| log.read_at(buf, at))?;
    bytes.truncate(filled);
    Ok(bytes)
}

/// Reads the window `at` of a log of `size` bytes, counting lines as far
/// as `bound` lets it. Blocking.
pub(crate) fn read_window(
    index: &LineIndex,
    key: &LogKey,
    log: &dyn ReadLog,
    size: u64,
    at: WindowAt,
    bound: &mut Bound<'_>,
) -> Result<Window, StoreError> {
    let mut line_missing = false;
    let mut numbered = true;
    let from_line = match at {
        WindowAt::Tail => None,
        WindowAt::Line(n) => {
            let first = n.saturating_sub(CONTEXT_LINES).max(1);
            let start = index.line_start(key, log, size, first, bound)?;
            let asked = match start {
                LineStart::At(_) => index.line_start(key, log, size, n, bound)?,
                other => other,
            };
            line_missing = !matches!(asked, LineStart::At(_));
            match start {
                LineStart::At(s) if s < size || s == 0 => Some((first, s)),
                _ => None,
            }
        }
    };
    let (mut start, mut bytes, first_line, mut cut_first);
    match from_line {
        Some((first, s)) => {
            start = s;
            let end = size.min(s + WINDOW_BYTES);
            bytes = read_span(log, start, end)?;
            if start + (bytes.len() as u64) < size
                && let Some(last) = bytes.iter().rposition(|&b| b == b'\n')
            {
                bytes.truncate(last + 1);
            }
            first_line = first;
            cut_first = false;
        }
        None => {
            start = size.saturating_sub(TAIL_BYTES);
            bytes = read_span(log, start, size)?;
            cut_first = start > 0;
            if start > 0
                && let Some(nl) = bytes.iter().position(|&b| b == b'\n')
                && nl + 1 < bytes.len()
            {
                bytes.drain(..=nl);
                start += nl as u64 + 1;
                cut_first = false;
            }
            if cut_first {
                // Start on a character boundary at least.
                let skip = pikaci_store::utf8_boundary_skip(&bytes);
                bytes.drain(..skip);
                start += skip as u64;
            }
            first_line = match index.lines_before(key, log, size, start, bound)? {
                Some(before) => before + 1,
                None => {
                    numbered = false;
                    1
                }
            };
        }
    }
    let end = start + bytes.len() as u64;
    let open_last = !bytes.is_empty() && bytes.last() != Some(&b'\n');
    let open_len = if open_last {
        (bytes.len() - bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)) as u64
    } else {
        0
    };
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    let (mut lines, mut offsets) = (Vec::new(), Vec::new());
    if !bytes.is_empty() {
        let mut at = start;
        for l in body.split(|&b| b == b'\n') {
            offsets.push(at);
            at += l.len() as u64 + 1;
            lines.push(String::from_utf8_lossy(l).into_owned());
        }
    }
    Ok(Window {
        start,
        end,
        size,
        first_line,
        numbered,
        lines,
        offsets,
        open_last,
        open_len,
        cut_first,
        line_missing,
    })
}

#[cfg(test)]
mod tests {
    use super::super::lines::BytesLog as Bytes;
    use super::*;
    use crate::db::LaneRunId;

    fn numbered(lines: u64, open: bool) -> Bytes {
        let mut s: String = (1..=lines).map(|i| format!("line {i}\n")).collect();
        if open {
            s.push_str("partial");
        }
        Bytes(s.into_bytes())
    }

    fn window(log: &Bytes, at: WindowAt) -> Window {
        let key = LogKey::Lane(LaneRunId::new(1).unwrap());
        let gone = std::sync::atomic::AtomicBool::new(false);
        let mut bound = Bound::new(u64::MAX, &gone);
        read_window(
            &LineIndex::default(),
            &key,
            log,
            log.0.len() as u64,
            at,
            &mut bound,
        )
        .unwrap()
    }

    #[test]
    fn the_tail_starts_on_a_line_with_its_real_number() {
        let log = numbered(20_000, true);
        let w = window(&log, WindowAt::Tail);
        assert!(w.size - w.start <= TAIL_BYTES && w.end == w.size);
        assert!(!w.cut_first && w.open_last);
        assert_eq!(w.lines.last().unwrap(), "partial");
        assert_eq!(w.open_len, 7);
        assert_eq!(w.lines[0], format!("line {}", w.first_line));
        assert_eq!(w.lines[w.lines.len() - 2], "line 20000");
        assert_eq!(&log.0[w.start as usize - 1], &b'\n');
    }

    #[test]
    fn a_small_log_is_shown_whole() {
        let log = numbered(3, false);
        let w = window(&log, WindowAt::Tail);
        assert_eq!((w.start, w.first_line, w.open_last), (0, 1, false));
        assert_eq!(w.lines, ["line 1", "line 2", "line 3"]);
        let empty = Bytes(Vec::new());
        let w = window(&empty, WindowAt::Tail);
        assert!(w.lines.is_empty() && w.first_line == 1);
    }

    #[test]
    fn a_window_at_a_line_shows_it_with_context() {
        let log = numbered(50_000, false);
        let w = window(&log, WindowAt::Line(120));
        assert_eq!(w.first_line, 100);
        assert_eq!(w.lines[0], "line 100");
        assert_eq!(w.lines[20], "line 120");
        let at = w.offsets[20] as usize;
        assert_eq!(&log.0[at..at + 9], b"line 120\n");
        assert!(w.end < w.size && log.0[w.end as usize - 1] == b'\n');
        assert!(!w.line_missing);
        let w = window(&log, WindowAt::Line(60_000));
        assert!(w.line_missing, "a line past the end opens the tail");
        assert_eq!(w.end, w.size);
    }

    #[test]
    fn a_tail_inside_one_huge_line_is_marked_cut() {
        let mut bytes = vec![b'a'; 100_000];
        bytes.push(b'\n');
        let log = Bytes(bytes);
        let w = window(&log, WindowAt::Tail);
        assert!(w.cut_first && w.first_line == 1 && w.lines.len() == 1);
    }
}

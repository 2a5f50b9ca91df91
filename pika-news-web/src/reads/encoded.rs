//! Log text sized by what it costs in the answer, not on disk: JSON escapes
//! a NUL or another control byte as six bytes (`\u0000`), so a raw-byte cap
//! alone lets an 8 MiB log of NULs become a 48 MiB answer. [`read_fitted`]
//! reads a range of a log and keeps as much of it as fits a budget of
//! encoded bytes, so one answer's log text is at most [`ANSWER_BUDGET`]
//! bytes on the wire.

use pikaci_store::{LogChunk, LogRange, MAX_READ_BYTES};

/// The most bytes of JSON-encoded log text one answer carries (all its logs together).
pub const ANSWER_BUDGET: u64 = MAX_READ_BYTES;

/// What `c` costs inside a JSON string as `serde_json` writes it.
fn json_cost(c: char) -> u64 {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if u32::from(c) < 0x20 => 6,
        c => c.len_utf8() as u64,
    }
}

/// Each decoded unit of `bytes` (a character, or an invalid sequence that
/// lossy decoding turns into one U+FFFD) with its raw length and its cost.
fn units(bytes: &[u8]) -> impl Iterator<Item = (usize, u64)> + '_ {
    bytes.utf8_chunks().flat_map(|chunk| {
        let invalid = chunk.invalid();
        chunk
            .valid()
            .chars()
            .map(|c| (c.len_utf8(), json_cost(c)))
            .chain((!invalid.is_empty()).then_some((invalid.len(), 3)))
    })
}

/// The longest prefix of `bytes` whose text costs at most `budget`: its
/// length and cost.
fn fitting_prefix(bytes: &[u8], budget: u64) -> (usize, u64) {
    let (mut len, mut cost) = (0, 0);
    for (n, c) in units(bytes) {
        if cost + c > budget {
            break;
        }
        len += n;
        cost += c;
    }
    (len, cost)
}

/// Where the longest suffix of `bytes` whose text costs at most `budget`
/// starts, and its cost.
fn fitting_suffix(bytes: &[u8], budget: u64) -> (usize, u64) {
    let total: u64 = units(bytes).map(|(_, c)| c).sum();
    let (mut start, mut cost) = (0, total);
    for (n, c) in units(bytes) {
        if cost <= budget {
            break;
        }
        start += n;
        cost -= c;
    }
    (start, cost)
}

/// How much is read at a time while measuring.
const PIECE: usize = 64 * 1024;

/// Fills `buf` from `at` (short only at the end of the file).
pub(crate) fn read_full<E>(
    buf: &mut [u8],
    at: u64,
    read_at: &mut impl FnMut(&mut [u8], u64) -> Result<usize, E>,
) -> Result<usize, E> {
    let mut filled = 0;
    while filled < buf.len() {
        match read_at(&mut buf[filled..], at + filled as u64)? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Where, reading forward from `start` to at most `end` a piece at a time,
/// the text stops fitting `budget`. Pieces are measured alone, so a
/// character split between two counts as invalid bytes: never less than it
/// costs whole.
fn measured_end<E>(
    start: u64,
    end: u64,
    budget: u64,
    read_at: &mut impl FnMut(&mut [u8], u64) -> Result<usize, E>,
) -> Result<u64, E> {
    let mut buf = vec![0u8; PIECE];
    let (mut pos, mut cost) = (start, 0);
    while pos < end {
        let want = usize::try_from(end - pos).unwrap_or(PIECE).min(PIECE);
        let n = read_full(&mut buf[..want], pos, read_at)?;
        let (keep, c) = fitting_prefix(&buf[..n], budget - cost);
        pos += keep as u64;
        cost += c;
        if keep < want {
            break;
        }
    }
    Ok(pos)
}

/// Where, reading backward from `end` to at most `begin` a piece at a
/// time, a suffix stops fitting `budget` (as [`measured_end`], never less
/// than it costs whole).
fn measured_start<E>(
    begin: u64,
    end: u64,
    budget: u64,
    read_at: &mut impl FnMut(&mut [u8], u64) -> Result<usize, E>,
) -> Result<u64, E> {
    let mut buf = vec![0u8; PIECE];
    let (mut pos, mut cost) = (end, 0);
    while pos > begin {
        let from = pos.saturating_sub(PIECE as u64).max(begin);
        let want = (pos - from) as usize;
        let n = read_full(&mut buf[..want], from, read_at)?;
        if n < want {
            // The file shrank under us: keep nothing before what was measured.
            return Ok(pos);
        }
        let (skip, c) = fitting_suffix(&buf[..n], budget - cost);
        cost += c;
        if skip > 0 {
            return Ok(from + skip as u64);
        }
        pos = from;
    }
    Ok(pos)
}

/// Reads `range` of a log of `size` bytes through `read_at` (positional
/// reads, 0 at the end), keeping at most `budget` bytes of encoded text:
/// the head of a span, the end of a tail. Returns the chunk, decoded
/// lossily, and (at most) what its text costs.
///
/// Memory stays near what is kept: a range that fits even if every byte
/// cost six is read at once; a longer one is first measured a piece at a
/// time, then only the part that fits is read. What was read is fitted
/// again, in case the file changed in between.
pub(crate) fn read_fitted<E>(
    size: u64,
    range: LogRange,
    budget: u64,
    mut read_at: impl FnMut(&mut [u8], u64) -> Result<usize, E>,
) -> Result<(LogChunk, u64), E> {
    let (start, len) = range.plan(size, budget.min(MAX_READ_BYTES));
    let tail = matches!(range, LogRange::Tail(_));
    let certain = len.saturating_mul(6) <= budget;
    let (from, to) = match (certain, tail) {
        (true, _) => (start, start + len),
        (false, true) => (
            measured_start(start, start + len, budget, &mut read_at)?,
            start + len,
        ),
        (false, false) => (
            start,
            measured_end(start, start + len, budget, &mut read_at)?,
        ),
    };
    let mut bytes = vec![0u8; usize::try_from(to - from).unwrap_or(0)];
    let filled = read_full(&mut bytes, from, &mut read_at)?;
    bytes.truncate(filled);
    // A tail starts on a character: skip at most 3 continuation bytes.
    let skip = if tail && from > 0 {
        pikaci_store::utf8_boundary_skip(&bytes)
    } else {
        0
    };
    let (keep_from, cost) = if certain {
        (skip, len.saturating_mul(6))
    } else if tail {
        let (from, cost) = fitting_suffix(&bytes[skip..], budget);
        (skip + from, cost)
    } else {
        let (keep, cost) = fitting_prefix(&bytes, budget);
        bytes.truncate(keep);
        (0, cost)
    };
    bytes.drain(..keep_from);
    let offset = from + keep_from as u64;
    let len = bytes.len() as u64;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    Ok((
        LogChunk {
            text,
            offset,
            len,
            total_size: size,
            truncated: offset > 0 || offset + len < size,
            exists: true,
        },
        cost,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(log: &[u8], range: LogRange, budget: u64) -> (LogChunk, u64) {
        read_fitted(log.len() as u64, range, budget, |buf, at| {
            let at = at as usize;
            let n = buf.len().min(log.len().saturating_sub(at));
            buf[..n].copy_from_slice(&log[at..at + n]);
            Ok::<_, std::io::Error>(n)
        })
        .unwrap()
    }

    #[test]
    fn costs_follow_serde_json() {
        for s in ["a\u{0}b\"\\\n\r\t\u{8}\u{c}\u{1f}é€😀\u{7f}", "plain"] {
            let cost: u64 = s.chars().map(json_cost).sum();
            assert_eq!(
                cost as usize + 2,
                serde_json::to_string(s).unwrap().len(),
                "{s:?}"
            );
        }
        let lossy = b"ok\xff\xfe!";
        let cost: u64 = units(lossy).map(|(_, c)| c).sum();
        let text = String::from_utf8_lossy(lossy);
        assert_eq!(
            cost as usize + 2,
            serde_json::to_string(&text).unwrap().len()
        );
    }

    #[test]
    fn nuls_are_cut_by_what_they_cost_encoded() {
        let log = vec![0u8; 1000];
        let (chunk, cost) = read(&log, LogRange::Whole, 600);
        assert_eq!((chunk.len, chunk.offset, cost), (100, 0, 600));
        assert!(chunk.truncated);
        assert!(serde_json::to_string(&chunk.text).unwrap().len() <= 602);
        let (chunk, cost) = read(&log, LogRange::Tail(1000), 600);
        assert_eq!((chunk.offset, chunk.len, cost), (900, 100, 600));
    }

    #[test]
    fn long_reads_are_measured_in_pieces_and_keep_what_fits() {
        // Multi-byte characters across piece boundaries, NULs, and text.
        let mut log = Vec::new();
        while log.len() < 5 * PIECE {
            log.extend_from_slice("é€😀 text\n".as_bytes());
            log.extend_from_slice(&[0u8; 7]);
        }
        for budget in [1_000u64, 100_000, 200_001, 10_000_000] {
            for range in [
                LogRange::Whole,
                LogRange::Tail(u64::MAX),
                LogRange::Span {
                    offset: 5,
                    limit: 300_000,
                },
            ] {
                let (chunk, cost) = read(&log, range, budget);
                let encoded = serde_json::to_string(&chunk.text).unwrap().len() as u64 - 2;
                assert!(
                    encoded <= cost && cost <= budget.max(6 * chunk.len),
                    "{range:?} {budget}: {encoded} {cost}"
                );
                assert!(encoded <= budget, "{range:?} {budget}");
                let raw = &log[chunk.offset as usize..(chunk.offset + chunk.len) as usize];
                assert_eq!(
                    chunk.text,
                    String::from_utf8_lossy(raw),
                    "{range:?} {budget}"
                );
                if budget >= 200_001 {
                    assert!(
                        encoded > budget / 2 || chunk.len as usize == raw.len(),
                        "{range:?} {budget}: kept too little"
                    );
                }
            }
        }
    }

    #[test]
    fn plain_text_within_the_budget_is_whole_and_a_tail_starts_on_a_character() {
        let (chunk, _) = read(b"hello\n", LogRange::Whole, 1 << 20);
        assert_eq!((chunk.text.as_str(), chunk.truncated), ("hello\n", false));
        let log = "aé€b".as_bytes();
        let (chunk, _) = read(log, LogRange::Tail(5), 1 << 20);
        assert_eq!(chunk.text, "€b");
        assert_eq!(chunk.offset, 3);
        let (chunk, cost) = read(
            log,
            LogRange::Span {
                offset: 0,
                limit: 100,
            },
            3,
        );
        assert_eq!((chunk.text.as_str(), cost), ("aé", 3));
    }
}

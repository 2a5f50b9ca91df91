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

/// Reads `range` of a log of `size` bytes through `read_at` (positional
/// reads, 0 at the end), keeping at most `budget` bytes of encoded text:
/// the head of a span, the end of a tail. Reads at most `budget` raw bytes
/// (no byte encodes shorter than itself). Returns the chunk, decoded
/// lossily, and what its text costs.
pub fn read_fitted<E>(
    size: u64,
    range: LogRange,
    budget: u64,
    mut read_at: impl FnMut(&mut [u8], u64) -> Result<usize, E>,
) -> Result<(LogChunk, u64), E> {
    let (start, len) = range.plan(size, budget.min(MAX_READ_BYTES));
    let mut bytes = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
    let mut filled = 0;
    while filled < bytes.len() {
        match read_at(&mut bytes[filled..], start + filled as u64)? {
            0 => break,
            n => filled += n,
        }
    }
    bytes.truncate(filled);
    let (keep_from, cost) = if matches!(range, LogRange::Tail(_)) {
        // A tail starts on a character: skip at most 3 continuation bytes.
        let skip = if start > 0 {
            bytes
                .iter()
                .take(3)
                .take_while(|b| (**b & 0b1100_0000) == 0b1000_0000)
                .count()
        } else {
            0
        };
        let (from, cost) = fitting_suffix(&bytes[skip..], budget);
        (skip + from, cost)
    } else {
        let (keep, cost) = fitting_prefix(&bytes, budget);
        bytes.truncate(keep);
        (0, cost)
    };
    bytes.drain(..keep_from);
    let offset = start + keep_from as u64;
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

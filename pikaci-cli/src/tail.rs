//! The last lines of a log, for `logs --tail N` and the lines shown under a
//! failed job: read backwards from the end in pieces until enough newlines
//! are found, so the cost depends on the lines asked for, not the log's size.

use pikaci_store::{LogReader, StoreError};

/// Reads into a buffer from an offset: how many bytes were read, 0 at the end.
pub(crate) type ReadAt<'a> = dyn FnMut(&mut [u8], u64) -> Result<usize, StoreError> + 'a;

/// How much one backward read takes.
const STEP: u64 = 64 * 1024;

/// Where the last `lines` lines of a log start (a line ends at `\n`; a last
/// line without one counts), reading at most `max_bytes` back from the end.
/// A start found inside that bound is always a line's start, so no half line
/// (nor half an escape sequence) is printed; a log whose last lines are
/// longer than the bound starts at the bound.
pub(crate) fn start_of_last_lines(
    read_at: &mut ReadAt<'_>,
    size: u64,
    lines: u64,
    max_bytes: u64,
) -> Result<u64, StoreError> {
    if lines == 0 || size == 0 {
        return Ok(size);
    }
    let floor = size.saturating_sub(max_bytes);
    // A final newline ends the last line; it does not start another.
    let mut end = size;
    let mut last = [0u8; 1];
    if read_at(&mut last, size - 1)? == 1 && last[0] == b'\n' {
        end = size - 1;
    }
    let mut found = 0;
    let mut buf = vec![0u8; STEP as usize];
    while end > floor {
        let start = end.saturating_sub(STEP).max(floor);
        let want = (end - start) as usize;
        let mut filled = 0;
        while filled < want {
            match read_at(&mut buf[filled..want], start + filled as u64)? {
                0 => break,
                n => filled += n,
            }
        }
        for i in (0..filled).rev() {
            if buf[i] == b'\n' {
                found += 1;
                if found == lines {
                    return Ok(start + i as u64 + 1);
                }
            }
        }
        end = start;
    }
    Ok(floor)
}

/// [`start_of_last_lines`] of an open log.
pub(crate) fn last_lines_start(
    reader: &LogReader,
    lines: u64,
    max_bytes: u64,
) -> Result<u64, StoreError> {
    let size = reader.size()?;
    start_of_last_lines(
        &mut |buf, at| reader.read_at(buf, at),
        size,
        lines,
        max_bytes,
    )
}

/// One line of a job's output made safe to show inside pikaci's own output:
/// colour sequences (`ESC [ ... m`) are kept when `keep_color`, dropped
/// otherwise; every other control character is written out (`\x1b`), so a
/// job cannot move the cursor or clear the screen.
pub(crate) fn sanitize_line(line: &str, keep_color: bool) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if c == '\x1b'
            && let Some(len) = sgr_len(rest)
        {
            if keep_color {
                out.push_str(&rest[..len]);
            }
            rest = &rest[len..];
            continue;
        }
        if c == '\t' {
            out.push(c);
        } else if c.is_control() {
            out.push_str(&pikaci_core::escape_controls(c.encode_utf8(&mut [0; 4])));
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The length of a colour sequence (`ESC [ digits;... m`) at the start of
/// `s`, if one is there.
fn sgr_len(s: &str) -> Option<usize> {
    let body = s.strip_prefix("\x1b[")?;
    let params = body
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b';')
        .count();
    (body.as_bytes().get(params) == Some(&b'm')).then_some(2 + params + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(text: &str, lines: u64, max: u64) -> usize {
        let bytes = text.as_bytes();
        let mut read = |buf: &mut [u8], at: u64| {
            let at = at as usize;
            let n = buf.len().min(bytes.len().saturating_sub(at));
            buf[..n].copy_from_slice(&bytes[at..at + n]);
            Ok(n)
        };
        start_of_last_lines(&mut read, bytes.len() as u64, lines, max).unwrap() as usize
    }

    #[test]
    fn counts_lines_not_bytes() {
        let text = "one\ntwo\nthree\n";
        assert_eq!(&text[start(text, 1, 1 << 20)..], "three\n");
        assert_eq!(&text[start(text, 2, 1 << 20)..], "two\nthree\n");
        assert_eq!(&text[start(text, 3, 1 << 20)..], text);
        assert_eq!(&text[start(text, 40, 1 << 20)..], text);
        assert_eq!(&text[start(text, 0, 1 << 20)..], "");
        // A last line without a newline counts as a line.
        let text = "one\ntwo";
        assert_eq!(&text[start(text, 1, 1 << 20)..], "two");
        assert_eq!(start("", 5, 10), 0);
    }

    #[test]
    fn lines_longer_than_a_step_and_the_bound() {
        let long = "x".repeat(200_000);
        let text = format!("a\n{long}\nb\n");
        assert_eq!(&text[start(&text, 2, 1 << 20)..], format!("{long}\nb\n"));
        // The bound cuts inside the long line: it starts at the bound.
        assert_eq!(start(&text, 2, 1000), text.len() - 1000);
    }

    #[test]
    fn colours_are_kept_or_dropped_and_other_escapes_written_out() {
        let line = "\x1b[31merror\x1b[0m: bad\x1b[2J\r";
        assert_eq!(
            sanitize_line(line, true),
            "\x1b[31merror\x1b[0m: bad\\x1b[2J\\r"
        );
        assert_eq!(sanitize_line(line, false), "error: bad\\x1b[2J\\r");
        assert_eq!(sanitize_line("a\tb", false), "a\tb");
    }
}

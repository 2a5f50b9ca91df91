//! Text from a run record (or a pipeline file) made safe to print on a
//! terminal or into pikaci's own lines of `host.log`.
//!
//! A branch's CI code can write `run.json`, so anything read from it (a
//! message, a description, an executor name, an error quoting the file) may
//! hold a newline that forges a row of `pikaci list`, or escape sequences
//! that move the cursor, retitle the window or rewrite what is on screen.
//! Everything printed for a human that did not come from pikaci itself goes
//! through [`escape_controls`] (a job's logs are printed as they are, like
//! `cat` prints a file).

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control character written out as an escape (`\n`,
/// `\t`, `\x1b`, `\u{9b}`) and the invisible characters that reorder or hide
/// text (bidirectional overrides, zero-width marks) likewise, so what is
/// printed is one line that shows exactly what is there. Text with none of
/// them is returned as is.
///
/// ```
/// use pikaci_core::escape_controls;
/// assert_eq!(escape_controls("ok\n\x1b[2Jfake row"), "ok\\n\\x1b[2Jfake row");
/// assert_eq!(escape_controls("grüße"), "grüße");
/// ```
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) && u32::from(c) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Control characters (C0, DEL, C1) and the format characters that change
/// how the rest of a line is shown.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2069}'
                | '\u{feff}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_untouched() {
        for s in ["", "3 of 3 jobs passed", "grüße 🦀 日本", "a\\nb"] {
            assert!(matches!(escape_controls(s), Cow::Borrowed(_)), "{s}");
        }
    }

    #[test]
    fn controls_and_reordering_marks_are_written_out() {
        let cases = [
            ("two\nrows", "two\\nrows"),
            ("cr\rtab\t", "cr\\rtab\\t"),
            ("\x1b[2J\x1b]0;owned\x07", "\\x1b[2J\\x1b]0;owned\\x07"),
            ("nul\0del\x7f", "nul\\x00del\\x7f"),
            ("c1\u{9b}31m", "c1\\u{9b}31m"),
            ("evil\u{202e}txt.exe", "evil\\u{202e}txt.exe"),
            ("zero\u{200b}width", "zero\\u{200b}width"),
        ];
        for (raw, shown) in cases {
            assert_eq!(escape_controls(raw), shown, "{raw:?}");
            assert!(!escape_controls(raw).chars().any(needs_escape));
        }
    }
}

//! POSIX shell quoting, for commands that pass through a shell (`ssh HOST`)
//! and for printing commands so they can be pasted into one.
//!
//! A word made only of characters no shell treats specially is left as is;
//! anything else is wrapped in single quotes, where every byte stands for
//! itself, and each `'` inside becomes `'\''` (close, escaped quote, reopen).
//! Newlines and non-ASCII text need nothing more inside single quotes.

use std::borrow::Cow;

/// Characters that never need quoting in a POSIX shell word.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '_' | '-' | '.' | '/' | ':' | ',' | '+' | '=' | '@' | '%')
}

/// Quotes one word so a POSIX shell reads it back as exactly `word`.
///
/// ```
/// use pikaci_core::contract::shell_quote;
/// assert_eq!(shell_quote("limits.cpu=4"), "limits.cpu=4");
/// assert_eq!(shell_quote("it's"), r"'it'\''s'");
/// assert_eq!(shell_quote(""), "''");
/// ```
pub fn shell_quote(word: &str) -> Cow<'_, str> {
    // A leading `=` or `~` is harmless in argument position, but `~` expands:
    // only characters from the plain set may appear unquoted.
    if !word.is_empty() && word.chars().all(is_plain) {
        return Cow::Borrowed(word);
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('\'');
    for c in word.chars() {
        if c == '\'' {
            out.push_str(r"'\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    Cow::Owned(out)
}

/// Quotes each word and joins them with single spaces: one shell command line.
pub fn shell_join<I, S>(words: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out = String::new();
    for (i, w) in words.into_iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&shell_quote(w.as_ref()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Runs `printf '%s\0' <quoted words>` through `sh -c` and splits the output.
    fn shell_roundtrip(words: &[&str]) -> Vec<String> {
        let script = format!("printf '%s\\0' {}", shell_join(words));
        let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        text.split_terminator('\0').map(str::to_owned).collect()
    }

    #[test]
    fn plain_words_are_untouched() {
        for w in [
            "incus",
            "--project",
            "pika-managed-agents",
            "pikaci/dev",
            "a=b",
            "x@y:1",
        ] {
            assert_eq!(shell_quote(w), w);
        }
    }

    #[test]
    fn special_words_are_single_quoted() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
        assert_eq!(shell_quote("~"), "'~'");
        assert_eq!(shell_quote("say \"hi\""), "'say \"hi\"'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("a\nb"), "'a\nb'");
        assert_eq!(shell_quote("grüße"), "'grüße'");
    }

    #[test]
    fn a_shell_reads_back_exactly_what_was_quoted() {
        let words = [
            "",
            "plain",
            "two words",
            "it's \"quoted\"",
            "$HOME `id` $(id) \\ ; & | > <",
            "line one\nline two\n",
            "grüße 🦀 日本",
            "'",
            "''",
            "*?[a]{b,c}~",
            "tab\there",
        ];
        assert_eq!(shell_roundtrip(&words), words);
    }
}

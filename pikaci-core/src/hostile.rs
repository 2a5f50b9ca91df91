//! A corpus of hostile id strings: traversal and encoding tricks that every
//! path-bearing input (CLI arguments, URL segments, query values) must refuse.
//! Shared by the test suites of the CLI and the web service.

/// Strings that must never be accepted as a run, job or target id.
pub const HOSTILE_IDS: &[&str] = &[
    "..",
    ".",
    "../",
    "../..",
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "a/../b",
    "a/..",
    "/etc/passwd",
    "/",
    "//",
    "\\",
    "a\\b",
    "C:\\Windows",
    "c:",
    "%2e%2e",
    "%2e%2e%2f",
    "%2e%2e/",
    "..%2f",
    "..%2F..%2Fetc",
    "%252e%252e%252f",
    "..%252f",
    "%c0%ae%c0%ae/",
    "%c0%af",
    "..%c0%af",
    "%e0%80%ae",
    "..%5c",
    "%5c",
    "a%00b",
    "a\0b",
    "\0",
    "run\n",
    "\nrun",
    "a b",
    " a",
    "a\t",
    "-rf",
    "--help",
    ".hidden",
    "_leading",
    "a..b",
    "...",
    "a/b",
    "a:b",
    "a;b",
    "a|b",
    "$(id)",
    "`id`",
    "a*",
    "?",
    "~root",
    "\u{2215}etc",
    "\u{ff0e}\u{ff0e}",
    "\u{2024}\u{2024}",
    "\u{202e}abc",
    "é",
    "",
];

/// An id longer than any accepted one.
pub fn overlong_id() -> String {
    "a".repeat(crate::MAX_ID_LEN + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{JobId, RunId, TargetId};

    #[test]
    fn the_corpus_is_large_and_every_entry_is_refused() {
        assert!(HOSTILE_IDS.len() >= 50);
        for s in HOSTILE_IDS.iter().copied().chain([overlong_id().as_str()]) {
            assert!(s.parse::<RunId>().is_err(), "run id {s:?}");
            assert!(s.parse::<JobId>().is_err(), "job id {s:?}");
            assert!(s.parse::<TargetId>().is_err(), "target id {s:?}");
        }
    }
}

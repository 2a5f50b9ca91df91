//! HTTP byte ranges and validators for the raw log route, as pure functions
//! of header values and the file's size (RFC 9110 §13–14).
//!
//! - [`parse_range`]: a `Range` header → what to send ([`RangeAsk`]).
//! - [`etag_matches`]: `If-None-Match` / `If-Range` against the current `ETag`.
//!
//! The choices, documented in `docs/pika-news.md`: one range per request; a
//! header asking for several ranges is refused with 416 (RFC 9110 §15.5.17
//! lets a server reject many ranges), since answering a multi-range ask with a
//! whole 1 GiB log would surprise the client more. A header that is not a
//! byte-range header at all (another unit, bad syntax) is ignored, as the RFC
//! says, and the whole log is sent.

/// What a `Range` header asks of a file of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeAsk {
    /// No usable range: send the whole file (200).
    Whole,
    /// Bytes `start..=end` (206 with `Content-Range: bytes start-end/size`).
    Part {
        /// The first byte.
        start: u64,
        /// The last byte, inclusive.
        end: u64,
    },
    /// Nothing of the file can be sent (416 with `Content-Range: bytes */size`).
    Unsatisfiable,
    /// More than one range: refused (416), see the module docs.
    Several,
}

impl RangeAsk {
    /// How many bytes the answer carries for a file of `size` bytes.
    pub(crate) fn len(self, size: u64) -> u64 {
        match self {
            Self::Whole => size,
            Self::Part { start, end } => end - start + 1,
            Self::Unsatisfiable | Self::Several => 0,
        }
    }

    /// The bytes sent, as (first byte, how many), for a file of `size`
    /// bytes; `None` when nothing of the file is sent.
    pub(crate) fn span(self, size: u64) -> Option<(u64, u64)> {
        match self {
            Self::Whole => Some((0, size)),
            Self::Part { start, .. } => Some((start, self.len(size))),
            Self::Unsatisfiable | Self::Several => None,
        }
    }
}

/// One `first-last`, `first-` or `-suffix` of a byte-range set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    From { first: u64, last: Option<u64> },
    Suffix(u64),
}

fn number(s: &str) -> Option<u64> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn spec(s: &str) -> Option<Spec> {
    let (first, last) = s.trim().split_once('-')?;
    match (first.is_empty(), last.is_empty()) {
        (true, false) => Some(Spec::Suffix(number(last)?)),
        (false, true) => Some(Spec::From {
            first: number(first)?,
            last: None,
        }),
        (false, false) => {
            let (first, last) = (number(first)?, number(last)?);
            // "5-3" is not a valid range: the header is ignored.
            (first <= last).then_some(Spec::From {
                first,
                last: Some(last),
            })
        }
        (true, true) => None,
    }
}

/// What `header` (the `Range` value, if any) asks of a file of `size` bytes.
pub(crate) fn parse_range(header: Option<&str>, size: u64) -> RangeAsk {
    let Some(set) = header.and_then(|h| {
        let (unit, set) = h.trim().split_once('=')?;
        unit.trim().eq_ignore_ascii_case("bytes").then_some(set)
    }) else {
        return RangeAsk::Whole;
    };
    let specs: Option<Vec<Spec>> = set.split(',').map(spec).collect();
    let specs = match specs {
        Some(s) if !s.is_empty() => s,
        _ => return RangeAsk::Whole,
    };
    if specs.len() > 1 {
        return RangeAsk::Several;
    }
    match specs[0] {
        Spec::From { first, .. } if first >= size => RangeAsk::Unsatisfiable,
        Spec::From { first, last } => RangeAsk::Part {
            start: first,
            end: last.map_or(size - 1, |l| l.min(size - 1)),
        },
        Spec::Suffix(0) => RangeAsk::Unsatisfiable,
        Spec::Suffix(_) if size == 0 => RangeAsk::Unsatisfiable,
        Spec::Suffix(n) => RangeAsk::Part {
            start: size - n.min(size),
            end: size - 1,
        },
    }
}

/// The headers that decide what a raw answer sends, owned so the decision
/// can be made wherever the log's identity is known.
#[derive(Debug, Clone, Default)]
pub(crate) struct Conditions {
    range: Option<String>,
    if_range: Option<String>,
    if_none_match: Option<String>,
}

impl Conditions {
    /// The `Range`, `If-Range` and `If-None-Match` of a request.
    pub(crate) fn of(headers: &axum::http::HeaderMap) -> Self {
        use axum::http::header;
        let text = |h: header::HeaderName| {
            headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Self {
            range: text(header::RANGE),
            if_range: text(header::IF_RANGE),
            if_none_match: text(header::IF_NONE_MATCH),
        }
    }

    /// What to answer for a log whose current `ETag` is `etag` and size
    /// `size`: `None` for 304 (not modified), else what the range asks.
    pub(crate) fn decide(&self, etag: &str, size: u64) -> Option<RangeAsk> {
        if self
            .if_none_match
            .as_deref()
            .is_some_and(|h| none_match(h, etag))
        {
            return None;
        }
        let range_allowed = self
            .if_range
            .as_deref()
            .is_none_or(|h| if_range_holds(h, etag));
        Some(if range_allowed {
            parse_range(self.range.as_deref(), size)
        } else {
            RangeAsk::Whole
        })
    }
}

/// Whether an `If-None-Match` value (a list of entity tags, or `*`) matches
/// `etag` by the weak comparison (RFC 9110 §13.1.2).
pub(crate) fn none_match(header: &str, etag: &str) -> bool {
    let ours = etag.trim_start_matches("W/");
    header.trim() == "*"
        || header
            .split(',')
            .any(|t| t.trim().trim_start_matches("W/") == ours)
}

/// Whether an `If-Range` value lets a range be served: only an entity tag
/// that matches `etag` by the strong comparison does (a weak tag never does,
/// and a date is not honoured: the log's modification time has only the
/// precision of the file system, so the range is answered with the whole log).
pub(crate) fn if_range_holds(header: &str, etag: &str) -> bool {
    let h = header.trim();
    h.starts_with('"') && h == etag
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use RangeAsk::*;

    #[test]
    fn single_ranges_of_each_form() {
        let p = |h: &str| parse_range(Some(h), 100);
        assert_eq!(p("bytes=0-9"), Part { start: 0, end: 9 });
        assert_eq!(p("bytes=90-"), Part { start: 90, end: 99 });
        assert_eq!(p("bytes=90-1000"), Part { start: 90, end: 99 });
        assert_eq!(p("bytes=-10"), Part { start: 90, end: 99 });
        assert_eq!(p("bytes=-1000"), Part { start: 0, end: 99 });
        assert_eq!(p("Bytes = 5-5"), Part { start: 5, end: 5 });
        assert_eq!(p("bytes=99-99"), Part { start: 99, end: 99 });
    }

    #[test]
    fn unsatisfiable_several_and_ignored() {
        let p = |h: &str| parse_range(Some(h), 100);
        assert_eq!(p("bytes=100-"), Unsatisfiable);
        assert_eq!(p("bytes=100-200"), Unsatisfiable);
        assert_eq!(p("bytes=-0"), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-5"), 0), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-"), 0), Unsatisfiable);
        assert_eq!(p("bytes=0-1,5-6"), Several);
        assert_eq!(p("bytes=0-1, -5"), Several);
        for ignored in [
            "items=0-1",
            "bytes=",
            "bytes=a-b",
            "bytes=5-3",
            "bytes=-",
            "bytes=+1-2",
            "bytes=0-1,x",
            "0-1",
        ] {
            assert_eq!(p(ignored), Whole, "{ignored}");
        }
        assert_eq!(parse_range(None, 100), Whole);
    }

    #[test]
    fn validators() {
        let etag = "\"1-2-3\"";
        assert!(none_match("\"1-2-3\"", etag));
        assert!(none_match("\"x\", W/\"1-2-3\"", etag));
        assert!(none_match("*", etag));
        assert!(!none_match("\"1-2-4\"", etag));
        assert!(if_range_holds(" \"1-2-3\" ", etag));
        assert!(!if_range_holds("W/\"1-2-3\"", etag));
        assert!(!if_range_holds("Tue, 24 Mar 2026 16:12:38 GMT", etag));
    }

    proptest! {
        #[test]
        fn a_part_is_always_inside_the_file(h in "bytes=[0-9]{0,4}-[0-9]{0,4}", size in 0u64..3000) {
            if let Part { start, end } = parse_range(Some(&h), size) {
                prop_assert!(start <= end && end < size);
                prop_assert_eq!(Part { start, end }.len(size), end - start + 1);
            }
        }
    }
}

//! [`LogRange`]: which part of a log to read, parsed from its parts in one
//! place, and the byte arithmetic of reads, pure so it can be tested exhaustively.

/// The most bytes one read returns; larger asks are cut and reported truncated,
/// so no request reads a whole huge log into memory.
pub const MAX_READ_BYTES: u64 = 8 * 1024 * 1024;

/// Which part of a log to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogRange {
    /// From the start (at most [`MAX_READ_BYTES`]).
    Whole,
    /// `limit` bytes from `offset` (an offset past the end gives an empty chunk).
    Span {
        /// First byte.
        offset: u64,
        /// How many bytes at most.
        limit: u64,
    },
    /// The last `n` bytes.
    Tail(u64),
}

/// Why a range's parts do not make a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LogRangeError {
    /// `tail` was given together with `offset` and/or `limit`.
    #[error(
        "tail cannot be combined with {with}: ask for either the last bytes (tail) or a span (offset and limit)"
    )]
    TailWithSpan {
        /// What was given with `tail`: `offset`, `limit` or `offset and limit`.
        with: &'static str,
    },
}

impl LogRange {
    /// The range that `tail`, `offset` and `limit` (each optional, as in a
    /// query string or on a command line) ask for. The one rule, shared by
    /// `pikaci logs` and the pika-news API:
    ///
    /// - nothing: [`LogRange::Whole`];
    /// - `tail` alone: [`LogRange::Tail`];
    /// - `offset` and/or `limit`: [`LogRange::Span`] (offset 0 and no limit
    ///   when left out);
    /// - `tail` with `offset` or `limit`: an error naming what conflicts.
    ///
    /// ```
    /// use pikaci_store::LogRange;
    /// assert_eq!(LogRange::from_parts(Some(10), None, None), Ok(LogRange::Tail(10)));
    /// assert_eq!(
    ///     LogRange::from_parts(None, None, Some(5)),
    ///     Ok(LogRange::Span { offset: 0, limit: 5 })
    /// );
    /// let err = LogRange::from_parts(Some(10), Some(3), None).unwrap_err();
    /// assert!(err.to_string().starts_with("tail cannot be combined with offset"));
    /// ```
    pub fn from_parts(
        tail: Option<u64>,
        offset: Option<u64>,
        limit: Option<u64>,
    ) -> Result<Self, LogRangeError> {
        match (tail, offset, limit) {
            (None, None, None) => Ok(Self::Whole),
            (Some(n), None, None) => Ok(Self::Tail(n)),
            (None, offset, limit) => Ok(Self::Span {
                offset: offset.unwrap_or(0),
                limit: limit.unwrap_or(u64::MAX),
            }),
            (Some(_), offset, limit) => Err(LogRangeError::TailWithSpan {
                with: match (offset, limit) {
                    (Some(_), Some(_)) => "offset and limit",
                    (Some(_), None) => "offset",
                    _ => "limit",
                },
            }),
        }
    }
}

impl LogRange {
    /// The bytes this range reads of a file of `size` bytes, at most `cap`
    /// of them: `(start, len)`, with `start + len <= size` (the one rule
    /// every reader of a log follows).
    pub fn plan(self, size: u64, cap: u64) -> (u64, u64) {
        plan_read(self, size, cap)
    }

    /// The bytes this range covers in a file of `size` bytes, as
    /// `(start, len)`, without the read cap: for callers that stream the
    /// span rather than hold it (`start + len <= size` always holds).
    pub fn span(self, size: u64) -> (u64, u64) {
        plan_read(self, size, u64::MAX)
    }
}

/// The bytes to read for a range over a file of `size` bytes: `(start, len)`.
///
/// `len` never exceeds `cap`; `start + len <= size` always holds.
pub(crate) fn plan_read(range: LogRange, size: u64, cap: u64) -> (u64, u64) {
    match range {
        LogRange::Whole => (0, size.min(cap)),
        LogRange::Span { offset, limit } => {
            let start = offset.min(size);
            (start, limit.min(size - start).min(cap))
        }
        LogRange::Tail(n) => {
            let len = n.min(size).min(cap);
            (size - len, len)
        }
    }
}

/// Moves a tail's start past UTF-8 continuation bytes (at most 3) so the text
/// does not begin with half a character. Returns how many bytes to skip.
pub fn utf8_boundary_skip(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .take(3)
        .take_while(|b| (**b & 0b1100_0000) == 0b1000_0000)
        .count()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn from_parts_follows_the_one_rule() {
        assert_eq!(LogRange::from_parts(None, None, None), Ok(LogRange::Whole));
        assert_eq!(
            LogRange::from_parts(Some(0), None, None),
            Ok(LogRange::Tail(0))
        );
        assert_eq!(
            LogRange::from_parts(None, Some(7), None),
            Ok(LogRange::Span {
                offset: 7,
                limit: u64::MAX
            })
        );
        assert_eq!(
            LogRange::from_parts(None, Some(7), Some(3)),
            Ok(LogRange::Span {
                offset: 7,
                limit: 3
            })
        );
        for (offset, limit, with) in [
            (Some(1), None, "offset"),
            (None, Some(1), "limit"),
            (Some(1), Some(1), "offset and limit"),
        ] {
            let err = LogRange::from_parts(Some(5), offset, limit).unwrap_err();
            assert_eq!(err, LogRangeError::TailWithSpan { with });
            assert!(
                err.to_string()
                    .starts_with(&format!("tail cannot be combined with {with}:")),
                "{err}"
            );
        }
    }

    proptest! {
        #[test]
        fn from_parts_accepts_exactly_the_unambiguous_asks(
            tail in proptest::option::of(any::<u64>()),
            offset in proptest::option::of(any::<u64>()),
            limit in proptest::option::of(any::<u64>()),
        ) {
            let got = LogRange::from_parts(tail, offset, limit);
            let conflict = tail.is_some() && (offset.is_some() || limit.is_some());
            prop_assert_eq!(got.is_err(), conflict);
            match got {
                Ok(LogRange::Whole) => prop_assert!(tail.is_none() && offset.is_none() && limit.is_none()),
                Ok(LogRange::Tail(n)) => prop_assert_eq!(Some(n), tail),
                Ok(LogRange::Span { offset: o, limit: l }) => {
                    prop_assert_eq!(o, offset.unwrap_or(0));
                    prop_assert_eq!(l, limit.unwrap_or(u64::MAX));
                }
                Err(_) => {}
            }
        }

        #[test]
        fn range_plans_stay_inside_the_file(size in any::<u64>(), a in any::<u64>(), b in any::<u64>(), cap in 1u64..(1 << 30)) {
            for range in [LogRange::Whole, LogRange::Span { offset: a, limit: b }, LogRange::Tail(a)] {
                let (start, len) = plan_read(range, size, cap);
                prop_assert!(start <= size);
                prop_assert!(len <= cap);
                prop_assert!(len <= size - start);
            }
        }
    }

    #[test]
    fn edges() {
        // Empty log.
        assert_eq!(plan_read(LogRange::Whole, 0, 100), (0, 0));
        assert_eq!(plan_read(LogRange::Tail(10), 0, 100), (0, 0));
        assert_eq!(
            plan_read(
                LogRange::Span {
                    offset: 5,
                    limit: 5
                },
                0,
                100
            ),
            (0, 0)
        );
        // Tail larger than the log.
        assert_eq!(plan_read(LogRange::Tail(50), 20, 100), (0, 20));
        // Offset past the end.
        assert_eq!(
            plan_read(
                LogRange::Span {
                    offset: 30,
                    limit: 5
                },
                20,
                100
            ),
            (20, 0)
        );
        // Exact fits.
        assert_eq!(
            plan_read(
                LogRange::Span {
                    offset: 15,
                    limit: 5
                },
                20,
                100
            ),
            (15, 5)
        );
        assert_eq!(plan_read(LogRange::Tail(5), 20, 100), (15, 5));
        // The cap.
        assert_eq!(plan_read(LogRange::Whole, 1000, 100), (0, 100));
        assert_eq!(plan_read(LogRange::Tail(500), 1000, 100), (900, 100));
        assert_eq!(
            plan_read(
                LogRange::Span {
                    offset: 0,
                    limit: u64::MAX
                },
                1000,
                100
            ),
            (0, 100)
        );
        assert_eq!(
            plan_read(
                LogRange::Span {
                    offset: u64::MAX,
                    limit: u64::MAX
                },
                1000,
                100
            ),
            (1000, 0)
        );
    }

    #[test]
    fn invariants_hold_over_a_grid() {
        let values = [0, 1, 2, 7, 8, 9, 63, 64, 65, 1000, u64::MAX / 2, u64::MAX];
        for &size in &values[..10] {
            for &cap in &[1u64, 8, 64, 1 << 20] {
                for &a in &values {
                    for &b in &values {
                        for range in [
                            LogRange::Whole,
                            LogRange::Span {
                                offset: a,
                                limit: b,
                            },
                            LogRange::Tail(a),
                        ] {
                            let (start, len) = plan_read(range, size, cap);
                            assert!(
                                start <= size && len <= cap && start + len <= size,
                                "{range:?} {size} {cap}"
                            );
                            if let LogRange::Tail(_) = range {
                                assert_eq!(start + len, size);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn skips_continuation_bytes_only() {
        let s = "é€x".as_bytes(); // c3 a9 e2 82 ac 78
        assert_eq!(utf8_boundary_skip(&s[1..]), 1);
        assert_eq!(utf8_boundary_skip(&s[3..]), 2);
        assert_eq!(utf8_boundary_skip(s), 0);
        assert_eq!(utf8_boundary_skip(b"\x80\x80\x80\x80"), 3);
    }
}

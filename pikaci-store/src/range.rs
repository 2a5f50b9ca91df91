//! Byte-range arithmetic for log reads, pure so it can be tested exhaustively.

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

/// The bytes to read for a range over a file of `size` bytes: `(start, len)`.
///
/// `len` never exceeds `cap`; `start + len <= size` always holds.
pub fn plan_read(range: LogRange, size: u64, cap: u64) -> (u64, u64) {
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
    use super::*;

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

//! Validated identifiers: run, job and target ids.
//!
//! Every id that can end up in a path goes through [`validate_id`] first, so a
//! `../../etc` or an absolute path is rejected before it touches the disk.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The longest id accepted, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string was empty.
    #[error("{kind} id is empty")]
    Empty {
        /// Which kind of id (`run`, `job`, `target`).
        kind: &'static str,
    },
    /// The string was longer than [`MAX_ID_LEN`].
    #[error("{kind} id is {len} bytes long, the limit is {MAX_ID_LEN}")]
    TooLong {
        /// Which kind of id.
        kind: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// The first character is not an ASCII letter or digit.
    #[error("{kind} id {shown:?} must start with a letter or a digit")]
    BadStart {
        /// Which kind of id.
        kind: &'static str,
        /// The offending id, escaped and shortened for display.
        shown: String,
    },
    /// A character outside `[A-Za-z0-9._-]`.
    #[error(
        "{kind} id {shown:?} contains {ch:?}; only letters, digits, '.', '_' and '-' are allowed"
    )]
    BadChar {
        /// Which kind of id.
        kind: &'static str,
        /// The offending id, escaped and shortened for display.
        shown: String,
        /// The first character that is not allowed.
        ch: char,
    },
    /// The id contains `..`.
    #[error("{kind} id {shown:?} contains '..'")]
    DotDot {
        /// Which kind of id.
        kind: &'static str,
        /// The offending id, escaped and shortened for display.
        shown: String,
    },
}

fn shown(s: &str) -> String {
    let mut out: String = s.chars().take(64).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Checks `s` against `^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$` and rejects `..`.
pub fn validate_id(kind: &'static str, s: &str) -> Result<(), IdError> {
    let Some(first) = s.chars().next() else {
        return Err(IdError::Empty { kind });
    };
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong { kind, len: s.len() });
    }
    if !first.is_ascii_alphanumeric() {
        return Err(IdError::BadStart {
            kind,
            shown: shown(s),
        });
    }
    if let Some(ch) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(IdError::BadChar {
            kind,
            shown: shown(s),
            ch,
        });
    }
    if s.contains("..") {
        return Err(IdError::DotDot {
            kind,
            shown: shown(s),
        });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"))]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The id as a string slice (always a single safe path component).
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::try_from(s.to_owned())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

id_type!(
    /// A job id from the pipeline, e.g. `check-pika-rust`.
    JobId,
    "job"
);
id_type!(
    /// A target id from the pipeline, e.g. `pre-merge`.
    TargetId,
    "target"
);
id_type!(
    /// A run id. New runs get ids such as `20260324T161238Z-1a2b3c4d` (the UTC
    /// second the run was created, a dash and 8 lowercase hex digits; see
    /// [`RunId::new_at`]), which sort by time as strings. Any id that passes
    /// [`validate_id`] is accepted when reading, because earlier tools named
    /// runs otherwise (`pikaci-run-123`); such an id carries no time
    /// ([`RunId::timestamp`] is `None`).
    RunId,
    "run"
);

impl TryFrom<String> for JobId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        validate_id("job", &s)?;
        Ok(Self(s))
    }
}

impl TryFrom<String> for TargetId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        validate_id("target", &s)?;
        Ok(Self(s))
    }
}

impl TryFrom<String> for RunId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        validate_id("run", &s)?;
        Ok(Self(s))
    }
}

/// The length of the time part of a timestamped run id, `YYYYMMDDTHHMMSSZ`.
const RUN_ID_STAMP_LEN: usize = 16;

/// `YYYYMMDDTHHMMSSZ-` followed by 8 lowercase hex digits.
fn is_timestamped(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 25
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
        && b[16] == b'-'
        && b[17..]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
}

impl RunId {
    /// Makes a run id for `time` with 32 random bits: `20260324T161238Z-1a2b3c4d`.
    pub fn new_at(time: Timestamp) -> Self {
        let mut bytes = [0u8; 4];
        // Falling back to time-derived bits keeps ids unique enough if the OS
        // random source is unavailable; it never makes an invalid id.
        if getrandom::fill(&mut bytes).is_err() {
            bytes = (time.subsec_nanosecond() as u32 ^ std::process::id()).to_le_bytes();
        }
        Self::from_parts(time, u32::from_le_bytes(bytes))
    }

    /// Makes a run id from a time and an explicit 32-bit suffix (deterministic).
    pub fn from_parts(time: Timestamp, suffix: u32) -> Self {
        let stamp = time.strftime("%Y%m%dT%H%M%SZ");
        Self(format!("{stamp}-{suffix:08x}"))
    }

    /// Whether the id has the form new runs get, `20260324T161238Z-1a2b3c4d`.
    pub fn is_timestamped(&self) -> bool {
        is_timestamped(&self.0)
    }

    /// The `YYYYMMDDTHHMMSSZ` part of a timestamped id (`None` for other ids):
    /// stamps compare as strings in the order of their times.
    pub fn stamp(&self) -> Option<&str> {
        self.is_timestamped().then(|| &self.0[..RUN_ID_STAMP_LEN])
    }

    /// The UTC second encoded in a timestamped id; `None` for other ids.
    pub fn timestamp(&self) -> Option<Timestamp> {
        let s = self.stamp()?;
        let rfc3339 = format!(
            "{}-{}-{}T{}:{}:{}Z",
            &s[0..4],
            &s[4..6],
            &s[6..8],
            &s[9..11],
            &s[11..13],
            &s[13..15]
        );
        rfc3339.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_shapes() {
        for ok in ["a", "check-pika-rust", "v1.2_x", "A", &"a".repeat(128)] {
            assert!(ok.parse::<JobId>().is_ok(), "{ok}");
        }
        let run: RunId = "20260324T161238Z-1a2b3c4d".parse().unwrap();
        assert_eq!(run.as_str(), "20260324T161238Z-1a2b3c4d");
    }

    #[test]
    fn rejects_traversal_and_junk() {
        let bad = [
            "", "..", "../x", "a/../b", "/etc", "a/b", "a\\b", ".hidden", "-x", "a..b", "a\0b",
            "é", "a b", "a%2fb",
        ];
        for s in bad {
            assert!(s.parse::<JobId>().is_err(), "{s:?} was accepted");
        }
        let long = "a".repeat(129);
        assert!(matches!(
            long.parse::<JobId>(),
            Err(IdError::TooLong { len: 129, .. })
        ));
    }

    #[test]
    fn any_safe_run_id_is_read_but_only_the_time_shape_carries_a_time() {
        for s in [
            "pikaci-run-123",
            "20260324T161238Z-1A2B3C4D",
            "20260324T161238Z-1a2b3c4",
            "check",
            "20260324T161238-1a2b3c4d0",
        ] {
            let id: RunId = s.parse().unwrap();
            assert!(!id.is_timestamped(), "{s}");
            assert_eq!((id.stamp(), id.timestamp()), (None, None), "{s}");
        }
        // The shape, but no real time: it sorts by its stamp, and has no time.
        let odd: RunId = "20261324T161238Z-1a2b3c4d".parse().unwrap();
        assert!(odd.is_timestamped());
        assert_eq!(odd.timestamp(), None);
        for s in ["../x", "a/b", ".hidden", "a..b", ""] {
            assert!(s.parse::<RunId>().is_err(), "{s}");
        }
        let id: RunId = "20260324T161238Z-1a2b3c4d".parse().unwrap();
        assert!(id.is_timestamped());
        assert_eq!(id.stamp(), Some("20260324T161238Z"));
    }

    #[test]
    fn run_ids_sort_by_time_and_round_trip_their_time() {
        let t1: Timestamp = "2026-03-24T16:12:38Z".parse().unwrap();
        let t2: Timestamp = "2026-03-24T16:12:39Z".parse().unwrap();
        let a = RunId::from_parts(t1, u32::MAX);
        let b = RunId::from_parts(t2, 0);
        assert!(a < b);
        assert_eq!(a.as_str(), "20260324T161238Z-ffffffff");
        assert_eq!(a.timestamp(), Some(t1));
        let fresh = RunId::new_at(t1);
        assert!(fresh.as_str().starts_with("20260324T161238Z-"));
        assert!(fresh.as_str().parse::<RunId>().is_ok());
    }

    #[test]
    fn deserialize_validates() {
        assert!(serde_json::from_str::<JobId>("\"../etc\"").is_err());
        let id: JobId = serde_json::from_str("\"ok\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"ok\"");
    }
}

//! How CI runs a pipeline's targets: a target's `ci` table ([`TargetCi`]:
//! on every branch head, nightly, or not at all) and `[ci]`
//! ([`CiSettings`]). The lanes a forge makes of them are
//! [`CiLanes`](super::CiLanes).
//!
//! ```toml
//! [ci]
//! nightly_schedule_utc = "08:00"
//!
//! [[target]]
//! id = "pre-merge-pika-rust"
//! title = "pika-rust"
//! jobs = ["clippy", "test"]
//! paths = ["crates/pika/**", "Cargo.lock"]
//! ci = { trigger = "branch", concurrency_group = "staged-linux:pre-merge-pika-rust" }
//! ```

use std::fmt;

use serde::Serialize;

/// When CI runs a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CiTrigger {
    /// Never by itself (run it by hand): the default.
    #[default]
    None,
    /// On every new head of every branch whose changes match its `paths`.
    Branch,
    /// Once a day on the default branch's head, at `[ci] nightly_schedule_utc`.
    Nightly,
}

impl CiTrigger {
    /// Reads `"branch"`, `"nightly"` or `"none"`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(Self::None),
            "branch" => Some(Self::Branch),
            "nightly" => Some(Self::Nightly),
            _ => None,
        }
    }

    /// The word for it in `pikaci.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Branch => "branch",
            Self::Nightly => "nightly",
        }
    }
}

impl fmt::Display for CiTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A target's `ci = { trigger = ..., concurrency_group = ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct TargetCi {
    /// When CI runs it.
    pub trigger: CiTrigger,
    /// Lanes of one group run one at a time, across branches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency_group: Option<String>,
}

/// A time of day in UTC (`nightly_schedule_utc = "HH:MM"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NightlyTime {
    /// 0 to 23.
    pub hour: u8,
    /// 0 to 59.
    pub minute: u8,
}

/// When nightly targets run when `[ci]` does not say: 08:00 UTC.
pub const DEFAULT_NIGHTLY_TIME: NightlyTime = NightlyTime { hour: 8, minute: 0 };

impl NightlyTime {
    /// Parses `HH:MM` (or `H:MM`).
    pub fn parse(s: &str) -> Option<Self> {
        let (h, m) = s.split_once(':')?;
        let digits = |t: &str, max: u8, len: std::ops::RangeInclusive<usize>| {
            (len.contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| t.parse::<u8>().ok())
                .flatten()
                .filter(|n| *n <= max)
        };
        Some(Self {
            hour: digits(h, 23, 1..=2)?,
            minute: digits(m, 59, 2..=2)?,
        })
    }
}

impl fmt::Display for NightlyTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}

impl Serialize for NightlyTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `[ci]`: settings for every target CI runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CiSettings {
    /// When nightly targets run each day.
    pub nightly_schedule_utc: NightlyTime,
}

impl Default for CiSettings {
    fn default() -> Self {
        Self {
            nightly_schedule_utc: DEFAULT_NIGHTLY_TIME,
        }
    }
}

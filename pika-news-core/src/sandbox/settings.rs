//! `[lanes]` of `pika-news.toml`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use pikaci_core::engine::supervisor::JobSupervisor;

use crate::lanes::limits::LaneLimits;

/// How long a claim lasts without a heartbeat, unless configured.
pub const DEFAULT_LEASE_SECS: u64 = 60;

/// `[lanes]`: who lanes run as, and how long a claim lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneSettings {
    /// The unprivileged user lanes run as (`None`: as the service itself,
    /// which only suits trusted branches).
    pub run_as_user: Option<String>,
    /// The uids lanes take one each from while they run (`uid_range`), in
    /// place of one shared `run_as_user`.
    pub uid_range: Option<UidRange>,
    /// The group of every lane from `uid_range` (`gid`; by default the
    /// range's first number): the group that may create run folders.
    pub lane_gid: Option<u32>,
    /// The `PATH` of lanes run as a lane user (`path`; by default
    /// [`DEFAULT_LANE_PATH`](super::DEFAULT_LANE_PATH)).
    pub lane_path: Option<String>,
    /// How long a claim lasts without a heartbeat (renewed every third of it).
    pub lease_secs: u64,
    /// The job supervisor argv lanes run under (not in the file: `pika-news
    /// serve` sets its own binary). `None`: an argv lane's processes that
    /// leave its process group are not stopped with it.
    pub supervisor: Option<JobSupervisor>,
    /// `memory_max`, `pids_max`, `cpu_weight`: each lane's cgroup's limits.
    pub limits: LaneLimits,
}

impl Default for LaneSettings {
    fn default() -> Self {
        Self {
            run_as_user: None,
            uid_range: None,
            lane_gid: None,
            lane_path: None,
            lease_secs: DEFAULT_LEASE_SECS,
            supervisor: None,
            limits: LaneLimits::default(),
        }
    }
}

impl LaneSettings {
    /// From the configuration file's values (defaults for what is left out).
    pub fn new(run_as_user: Option<String>, lease_secs: Option<u64>) -> Self {
        Self {
            run_as_user: run_as_user.filter(|u| !u.is_empty()),
            // A heartbeat every third of the lease: at least 3 s so it is a second.
            lease_secs: lease_secs.unwrap_or(DEFAULT_LEASE_SECS).max(3),
            ..Self::default()
        }
    }

    /// The same settings with lanes taking a uid each from `range`, in the
    /// group `gid` (the range's first number when `None`).
    pub fn with_uid_range(mut self, range: Option<UidRange>, gid: Option<u32>) -> Self {
        self.lane_gid = range.map(|r| gid.unwrap_or(r.first()));
        self.uid_range = range;
        self
    }

    /// The same settings with lanes run as a lane user searching `path`.
    pub fn with_lane_path(mut self, path: Option<String>) -> Self {
        self.lane_path = path.filter(|p| !p.is_empty());
        self
    }

    /// The lease as a duration.
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }
}

/// A range of uids lanes may run as (`uid_range = "200000-200999"`). The
/// numbers need no `/etc/passwd` entry; they must belong to nobody else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct UidRange {
    first: u32,
    last: u32,
}

/// Why a `uid_range` is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "uid_range {0:?} is not FIRST-LAST with 1000 <= FIRST <= LAST < 4294967295 (e.g. \"200000-200999\")"
)]
pub struct UidRangeError(String);

impl UidRange {
    /// The range `first..=last`.
    pub fn new(first: u32, last: u32) -> Result<Self, UidRangeError> {
        // Below 1000 are the system's own users; u32::MAX is "no uid" to chown.
        if first < 1000 || first > last || last == u32::MAX {
            return Err(UidRangeError(format!("{first}-{last}")));
        }
        Ok(Self { first, last })
    }

    /// The first uid.
    pub fn first(&self) -> u32 {
        self.first
    }

    /// The last uid.
    pub fn last(&self) -> u32 {
        self.last
    }

    /// Whether `uid` is in the range.
    pub fn contains(&self, uid: u32) -> bool {
        (self.first..=self.last).contains(&uid)
    }

    /// Every uid of the range, in order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + use<> {
        self.first..=self.last
    }
}

impl FromStr for UidRange {
    type Err = UidRangeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || UidRangeError(s.to_owned());
        let (a, b) = s.split_once('-').ok_or_else(bad)?;
        let first = a.trim().parse().map_err(|_| bad())?;
        let last = b.trim().parse().map_err(|_| bad())?;
        Self::new(first, last).map_err(|_| bad())
    }
}

impl TryFrom<String> for UidRange {
    type Error = UidRangeError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for UidRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_ranges_parse_and_bad_ones_are_refused() {
        let r: UidRange = "200000-200999".parse().unwrap();
        assert_eq!(
            (r.first(), r.last(), r.to_string()),
            (200000, 200999, "200000-200999".into())
        );
        assert!(r.contains(200500) && !r.contains(201000));
        for bad in [
            "",
            "5",
            "200999-200000",
            "0-10",
            "10-20",
            "a-b",
            "1000-4294967295",
        ] {
            let err = bad.parse::<UidRange>().unwrap_err();
            assert!(err.to_string().contains("200000-200999"), "{bad}: {err}");
        }
        let s = LaneSettings::new(None, None).with_uid_range(Some(r), None);
        assert_eq!(s.lane_gid, Some(200000));
    }
}

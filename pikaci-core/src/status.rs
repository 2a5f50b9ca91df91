//! Small closed vocabularies: run and job status, failure kind, log kind, executor kind.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The status of a run or of one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Still going (or its owner died; see [`FailureKind::Interrupted`]).
    Running,
    /// Every job passed.
    Passed,
    /// At least one job failed.
    Failed,
    /// Not run (filtered out, or cancelled before it started).
    Skipped,
}

impl RunStatus {
    /// The lowercase name used on disk and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Passed => "passed",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }

    /// Whether this status is final.
    pub fn is_finished(self) -> bool {
        !matches!(self, Self::Running)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Why a job (or a run) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The job's own command failed.
    TestFailure,
    /// The job ran past its timeout and was killed.
    Timeout,
    /// pikaci or its executor could not run the job (spawn failed, VM never ready...).
    Infrastructure,
    /// The run was cancelled (signal, superseded branch head).
    Cancelled,
    /// The process that owned the run died before finishing it.
    Interrupted,
}

impl FailureKind {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TestFailure => "test_failure",
            Self::Timeout => "timeout",
            Self::Infrastructure => "infrastructure",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Which log of a job: pikaci's account (`host`), the job's output (`guest`), or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    /// `host.log`: what pikaci did for the job.
    Host,
    /// `guest.log`: the job's own stdout and stderr.
    Guest,
    /// Both logs.
    Both,
}

/// One concrete log file of a job (no `Both`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFile {
    /// `host.log`.
    Host,
    /// `guest.log`.
    Guest,
}

impl LogFile {
    /// Both files, host first.
    pub const ALL: [LogFile; 2] = [LogFile::Host, LogFile::Guest];

    /// The file name in the job directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Host => "host.log",
            Self::Guest => "guest.log",
        }
    }
}

impl LogKind {
    /// The files this kind stands for.
    pub fn files(self) -> &'static [LogFile] {
        match self {
            Self::Host => &[LogFile::Host],
            Self::Guest => &[LogFile::Guest],
            Self::Both => &LogFile::ALL,
        }
    }
}

/// A log kind that is not `host`, `guest` or `both`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("log kind {0:?} is not one of host, guest, both")]
pub struct ParseLogKindError(pub String);

impl FromStr for LogKind {
    type Err = ParseLogKindError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "host" => Ok(Self::Host),
            "guest" => Ok(Self::Guest),
            "both" => Ok(Self::Both),
            other => Err(ParseLogKindError(other.chars().take(64).collect())),
        }
    }
}

/// Where a job runs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum ExecutorKind {
    /// On this machine, in the run's snapshot.
    #[default]
    Host,
    /// In an Incus virtual machine.
    Incus,
    /// The earlier pikaci's name for the Incus VM path; kept so old records round-trip.
    RemoteLinuxVm,
    /// A name this version does not know (an executor plugged in by a library user,
    /// or a newer pikaci); kept as written.
    Other(String),
}

impl ExecutorKind {
    /// The name used in JSON and in `pikaci.toml`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Host => "host",
            Self::Incus => "incus",
            Self::RemoteLinuxVm => "remote_linux_vm",
            Self::Other(s) => s,
        }
    }
}

impl From<&str> for ExecutorKind {
    fn from(s: &str) -> Self {
        match s {
            "host" => Self::Host,
            "incus" => Self::Incus,
            "remote_linux_vm" => Self::RemoteLinuxVm,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ExecutorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for ExecutorKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ExecutorKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Self::from(s.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in [
            RunStatus::Running,
            RunStatus::Passed,
            RunStatus::Failed,
            RunStatus::Skipped,
        ] {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<RunStatus>(&json).unwrap(), s);
        }
        assert_eq!(
            serde_json::to_string(&FailureKind::TestFailure).unwrap(),
            "\"test_failure\""
        );
        for e in ["host", "incus", "remote_linux_vm", "custom"] {
            let k: ExecutorKind = serde_json::from_str(&format!("\"{e}\"")).unwrap();
            assert_eq!(k.as_str(), e);
        }
    }

    #[test]
    fn log_kind_parses_and_expands() {
        assert_eq!("both".parse::<LogKind>().unwrap().files(), &LogFile::ALL);
        assert_eq!("host".parse::<LogKind>().unwrap().files(), &[LogFile::Host]);
        assert!("../host".parse::<LogKind>().is_err());
    }
}

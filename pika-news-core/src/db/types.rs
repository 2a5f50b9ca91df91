//! The database's closed vocabularies and ids, each stored as TEXT or INTEGER
//! through `ToSql`/`FromSql`. A stored value this version does not know is an
//! error, never a guess.

use std::fmt;
use std::str::FromStr;

use pikaci_core::FailureKind;
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize};

/// A value that is not one of a vocabulary's names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}{}", expected(allowed))]
pub struct UnknownValue {
    /// What was parsed (`lane status`, `role`, ...).
    pub what: &'static str,
    /// The value (at most 64 characters of it).
    pub value: String,
    /// The accepted values, when the vocabulary is ours to list.
    pub allowed: Vec<&'static str>,
}

fn expected(allowed: &[&str]) -> String {
    if allowed.is_empty() {
        String::new()
    } else {
        format!(": use {}", allowed.join(", "))
    }
}

impl UnknownValue {
    fn new(what: &'static str, value: &str, allowed: Vec<&'static str>) -> Self {
        Self {
            what,
            value: value.chars().take(64).collect(),
            allowed,
        }
    }
}

fn from_sql_text<T: FromStr<Err = UnknownValue>>(value: ValueRef<'_>) -> FromSqlResult<T> {
    value
        .as_str()?
        .parse()
        .map_err(|e| FromSqlError::Other(Box::new(e)))
}

/// A closed vocabulary stored by name: `as_str`, `FromStr` (unknown names are
/// an error), `Display`, and `ToSql`/`FromSql`.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident ($what:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored (and JSON) name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $( $text => Ok(Self::$variant), )+
                    other => Err(UnknownValue::new(
                        $what,
                        other,
                        Self::ALL.iter().map(|v| v.as_str()).collect(),
                    )),
                }
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                from_sql_text(value)
            }
        }
    };
}

vocabulary! {
    /// A lane run's status.
    LaneStatus ("lane status") {
        /// Waiting to be claimed.
        Queued = "queued",
        /// Claimed and running.
        Running = "running",
        /// Finished, passed.
        Passed = "passed",
        /// Finished, failed (see its failure kind).
        Failed = "failed",
        /// Cancelled (superseded head, or by hand).
        Cancelled = "cancelled",
    }
}

vocabulary! {
    /// A suite's summary status, folded from its lanes.
    SuiteStatus ("suite status") {
        /// Some lane is queued or running.
        Running = "running",
        /// Every lane passed (or the head had nothing to run).
        Passed = "passed",
        /// Some lane failed, or the suite could not start (see its message).
        Failed = "failed",
        /// A lane was cancelled and none failed.
        Cancelled = "cancelled",
    }
}

vocabulary! {
    /// Whether a branch's ref still exists, and how it ended.
    BranchState ("branch state") {
        /// The ref exists.
        Open = "open",
        /// The ref is gone: closed through the server, or deleted by a push.
        Closed = "closed",
        /// Merged into the default branch through the server (its ref deleted).
        Merged = "merged",
    }
}

vocabulary! {
    /// What a token may do. Each role includes the ones below it.
    Role ("role") {
        /// Read runs, logs, branches and pages.
        Read = "read",
        /// Also rerun, requeue, fail and recover lanes, and wake the poller.
        Write = "write",
        /// Also manage tokens.
        Admin = "admin",
    }
}

/// Why a lane failed, as stored: pikaci's own [`FailureKind`], so a lane and
/// the run it started speak one vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoredFailureKind(pub(crate) FailureKind);

impl ToSql for StoredFailureKind {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.0.as_str()))
    }
}

impl FromSql for StoredFailureKind {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        // pikaci-core's serde names are the one list of failure kinds.
        let text = value.as_str()?;
        FailureKind::deserialize(
            serde::de::value::StrDeserializer::<serde::de::value::Error>::new(text),
        )
        .map(Self)
        .map_err(|_| {
            FromSqlError::Other(Box::new(UnknownValue::new(
                "failure kind",
                text,
                Vec::new(),
            )))
        })
    }
}

/// Column `i` of a lane's row, its pikaci run id, read as a [`RunId`]
/// once, here, instead of a string every reader parses again. The service
/// only stores ids that passed the id rule; a stored text that does not
/// (a row edited by hand) names no run the server could read, so it reads
/// as no run (the lane's run is gone), with a warning, as before.
///
/// [`RunId`]: pikaci_core::RunId
pub(crate) fn stored_run_id(
    row: &rusqlite::Row<'_>,
    i: usize,
) -> rusqlite::Result<Option<pikaci_core::RunId>> {
    let Some(text) = row.get::<_, Option<String>>(i)? else {
        return Ok(None);
    };
    match text.parse() {
        Ok(run) => Ok(Some(run)),
        Err(e) => {
            tracing::warn!(error = %e, "a lane records a pikaci run id that cannot name a run");
            Ok(None)
        }
    }
}

/// Text that is not a positive integer, given as a row id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: must be a positive integer")]
pub struct InvalidRowId {
    /// Which id (`branch id`, ...).
    pub what: &'static str,
    /// The value (at most 64 characters of it).
    pub value: String,
}

/// What every row id ([`BranchId`], [`SuiteId`], [`LaneRunId`], [`NightlyRunId`]) offers.
pub trait RowId: FromStr<Err = InvalidRowId> + Copy + fmt::Display {
    /// What the id names, for messages (`branch id`).
    const WHAT: &'static str;
}

/// A database id: a positive integer, stored as INTEGER, shown in URLs.
macro_rules! row_id {
    ($(#[$meta:meta])* $name:ident ($what:literal)) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 1))]
        pub struct $name(i64);

        impl RowId for $name {
            const WHAT: &'static str = $what;
        }

        impl $name {
            /// The id, if `n` is positive.
            pub fn new(n: i64) -> Option<Self> {
                (n > 0).then_some(Self(n))
            }

            /// The number.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidRowId;
            fn from_str(s: &str) -> Result<Self, InvalidRowId> {
                s.parse::<i64>()
                    .ok()
                    .and_then(Self::new)
                    .ok_or_else(|| InvalidRowId { what: $what, value: s.chars().take(64).collect() })
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                self.0.to_sql()
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let n = value.as_i64()?;
                Self::new(n).ok_or(FromSqlError::OutOfRange(n))
            }
        }
    };
}

row_id! {
    /// A branch's id (`/news/api/forge/branch/{branch_id}`).
    BranchId ("branch id")
}

row_id! {
    /// A suite's id: the CI of one branch head.
    SuiteId ("suite id")
}

row_id! {
    /// A lane run's id (`/news/api/forge/lane/{lane_run_id}/...`).
    LaneRunId ("lane run id")
}

row_id! {
    /// A nightly run's id (`/news/api/forge/nightly/{nightly_run_id}`).
    NightlyRunId ("nightly run id")
}

/// Where a lane is shown and where a lane action must find it: a branch's
/// own suites, or a nightly run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneScope {
    /// One of the branch's own suites (not a nightly run).
    Branch(BranchId),
    /// The nightly run.
    Nightly(NightlyRunId),
}

impl fmt::Display for LaneScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Branch(b) => write!(f, "branch {b}"),
            Self::Nightly(n) => write!(f, "nightly run {n}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    fn round_trip<T: ToSql + FromSql + PartialEq + fmt::Debug>(conn: &Connection, value: T) {
        let back: T = conn.query_row("SELECT ?1", [&value], |r| r.get(0)).unwrap();
        assert_eq!(back, value);
    }

    #[test]
    fn vocabularies_round_trip_and_unknown_values_are_errors() {
        let conn = Connection::open_in_memory().unwrap();
        for s in LaneStatus::ALL {
            round_trip(&conn, *s);
            assert_eq!(s.as_str().parse::<LaneStatus>().unwrap(), *s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for s in SuiteStatus::ALL {
            round_trip(&conn, *s);
        }
        for s in BranchState::ALL {
            round_trip(&conn, *s);
        }
        for r in Role::ALL {
            round_trip(&conn, *r);
        }
        let e = "exploded".parse::<LaneStatus>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown lane status \"exploded\": use queued, running, passed, failed, cancelled"
        );
        // An unknown stored value is an error, not `failed`.
        let read = conn.query_row("SELECT 'exploded'", [], |r| r.get::<_, LaneStatus>(0));
        assert!(read.is_err());
        assert!(
            conn.query_row("SELECT 3", [], |r| r.get::<_, LaneStatus>(0))
                .is_err()
        );
    }

    #[test]
    fn a_stored_pikaci_run_id_is_read_as_a_run_id_or_as_no_run() {
        let conn = Connection::open_in_memory().unwrap();
        let read = |text: Option<&str>| {
            conn.query_row("SELECT ?1", [text], |r| stored_run_id(r, 0))
                .unwrap()
        };
        assert_eq!(
            read(Some("20260324T161238Z-1a2b3c4d")).unwrap().as_str(),
            "20260324T161238Z-1a2b3c4d"
        );
        // Upstream's ids follow the same rule.
        assert_eq!(
            read(Some("pikaci-run-123")).unwrap().as_str(),
            "pikaci-run-123"
        );
        // Text that names no run reads as no run.
        assert_eq!(read(Some("../../etc")), None);
        assert_eq!(read(Some("")), None);
        assert_eq!(read(None), None);
        // A column of another type is an error, as for every typed column.
        assert!(
            conn.query_row("SELECT 3", [], |r| stored_run_id(r, 0))
                .is_err()
        );
    }

    #[test]
    fn failure_kinds_use_the_pikaci_names() {
        let conn = Connection::open_in_memory().unwrap();
        for k in [
            FailureKind::TestFailure,
            FailureKind::Timeout,
            FailureKind::Infrastructure,
            FailureKind::Cancelled,
            FailureKind::Interrupted,
        ] {
            round_trip(&conn, StoredFailureKind(k));
            let stored: String = conn
                .query_row("SELECT ?1", [StoredFailureKind(k)], |r| r.get(0))
                .unwrap();
            assert_eq!(stored, k.as_str());
        }
        assert!(
            conn.query_row("SELECT 'flaky'", [], |r| r.get::<_, StoredFailureKind>(0))
                .is_err()
        );
    }

    #[test]
    fn ids_are_positive() {
        let conn = Connection::open_in_memory().unwrap();
        round_trip(&conn, LaneRunId::new(7).unwrap());
        assert_eq!("42".parse::<BranchId>().unwrap().get(), 42);
        for bad in ["0", "-1", "x", "", "1.5", "99999999999999999999"] {
            let e = bad.parse::<SuiteId>().unwrap_err();
            assert!(e.to_string().starts_with("invalid suite id"), "{e}");
        }
        assert!(
            conn.query_row("SELECT 0", [], |r| r.get::<_, BranchId>(0))
                .is_err()
        );
        assert_eq!(
            serde_json::to_string(&LaneRunId::new(3).unwrap()).unwrap(),
            "3"
        );
    }
}

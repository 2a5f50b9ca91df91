//! Instance names: unique per run and job, and valid for Incus.
//!
//! Incus accepts at most 63 characters of ASCII letters, digits and hyphens,
//! starting with a letter and not ending with a hyphen. A run id such as
//! `20260324T161238Z-1a2b3c4d` and a job id such as `check_pika.rust` do not
//! fit as they are, so the name is `<prefix>-<job>-<run>-<hash>`: the readable
//! middle is lowercased, other characters become `-`, and it is cut to fit;
//! the last 8 characters are a SHA-256 of the exact run and job ids, so two
//! different pairs never collide because of that cutting.

use std::fmt;

use pikaci_core::{JobId, RunId};
use sha2::{Digest, Sha256};

use crate::error::IncusError;

/// Longest name Incus accepts.
pub const MAX_INSTANCE_NAME_LEN: usize = 63;
const HASH_LEN: usize = 8;

/// A valid Incus instance name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceName(String);

impl InstanceName {
    /// Validates `name` against Incus's rules.
    pub fn parse(name: &str) -> Result<Self, IncusError> {
        let reason = if name.is_empty() {
            Some("is empty")
        } else if name.len() > MAX_INSTANCE_NAME_LEN {
            Some("is longer than 63 characters")
        } else if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            Some("must start with a letter")
        } else if name.ends_with('-') {
            Some("must not end with a hyphen")
        } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            Some("may hold only ASCII letters, digits and hyphens")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(IncusError::InvalidInstanceName {
                name: name.chars().take(80).collect(),
                reason,
            }),
            None => Ok(Self(name.to_owned())),
        }
    }

    /// The name of the instance for `job` of `run`, with `prefix` (a short
    /// lowercase word starting with a letter, see the settings).
    pub fn for_job(prefix: &str, run: &RunId, job: &JobId) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(run.as_str().as_bytes());
        hasher.update([0]);
        hasher.update(job.as_str().as_bytes());
        let hash = hex::encode(hasher.finalize());
        let hash = &hash[..HASH_LEN];

        let prefix = sanitize(prefix);
        let prefix = if prefix.starts_with(|c: char| c.is_ascii_alphabetic()) {
            prefix
        } else {
            format!("p{prefix}")
        };
        let middle = sanitize(&format!("{}-{}", job.as_str(), run.as_str()));
        let room = MAX_INSTANCE_NAME_LEN.saturating_sub(prefix.len() + HASH_LEN + 2);
        let middle = middle[..middle.len().min(room)].trim_end_matches('-');
        let name = if middle.is_empty() {
            format!("{prefix}-{hash}")
        } else {
            format!("{prefix}-{middle}-{hash}")
        };
        Self::parse(&name).expect("sanitized parts joined by hyphens form a valid name")
    }

    /// Whether this name carries `prefix` (what `gc` deletes).
    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.0
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('-'))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Lowercase ASCII letters and digits kept, everything else one `-`, no
/// leading, trailing or doubled hyphens.
fn sanitize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

impl fmt::Display for InstanceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for InstanceName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(run: &str, job: &str) -> (RunId, JobId) {
        (run.parse().unwrap(), job.parse().unwrap())
    }

    #[test]
    fn readable_and_valid() {
        let (run, job) = ids("20260324T161238Z-1a2b3c4d", "check_pika.rust");
        let name = InstanceName::for_job("pikaci", &run, &job);
        assert!(
            name.as_str()
                .starts_with("pikaci-check-pika-rust-20260324t161238z-1a2b3c4d-"),
            "{name}"
        );
        assert_eq!(name.as_str().len(), 6 + 1 + 41 + 1 + 8);
        assert!(InstanceName::parse(name.as_str()).is_ok());
        assert!(name.has_prefix("pikaci"));
        assert!(!name.has_prefix("pika"));
    }

    #[test]
    fn long_ids_are_cut_but_stay_unique() {
        let run: RunId = "20260324T161238Z-1a2b3c4d".parse().unwrap();
        let long_a: JobId = format!("{}a", "x".repeat(120)).parse().unwrap();
        let long_b: JobId = format!("{}b", "x".repeat(120)).parse().unwrap();
        let a = InstanceName::for_job("averyverylongprefix1", &run, &long_a);
        let b = InstanceName::for_job("averyverylongprefix1", &run, &long_b);
        assert_ne!(a, b);
        for n in [&a, &b] {
            assert!(n.as_str().len() <= MAX_INSTANCE_NAME_LEN, "{n}");
            assert!(InstanceName::parse(n.as_str()).is_ok(), "{n}");
        }
    }

    #[test]
    fn ids_that_sanitize_alike_still_differ() {
        let run: RunId = "20260324T161238Z-1a2b3c4d".parse().unwrap();
        let a = InstanceName::for_job("pikaci", &run, &"a.b".parse().unwrap());
        let b = InstanceName::for_job("pikaci", &run, &"a_b".parse().unwrap());
        assert_ne!(a, b);
        let other_run: RunId = "20260324T161238Z-ffffffff".parse().unwrap();
        let c = InstanceName::for_job("pikaci", &other_run, &"a.b".parse().unwrap());
        assert_ne!(a, c);
        // Same inputs, same name: the stale-instance delete relies on it.
        assert_eq!(
            a,
            InstanceName::for_job("pikaci", &run, &"a.b".parse().unwrap())
        );
    }

    #[test]
    fn parse_rejects_what_incus_rejects() {
        for bad in [
            "",
            "1abc",
            "-abc",
            "abc-",
            "a_b",
            "a.b",
            "grüße",
            &"a".repeat(64),
        ] {
            assert!(InstanceName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(InstanceName::parse(&"a".repeat(63)).is_ok());
    }
}

//! Which heads the server merges, and for whom: `[forge_repo] merge_policy`.
//!
//! Upstream's `ph merge` refuses a red or stale head in the client only
//! (`--force` skips that); here the server decides, so any client, a page's
//! button or a hand-made request meets the same rule.

use std::fmt;

use serde::Deserialize;

/// `[forge_repo] merge_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MergePolicy {
    /// Only a head whose newest suite passed, for that exact head.
    Green,
    /// As `green`, but an admin may merge any head (what `ph merge --force`
    /// by an admin relies on: `ph` sends no flag, it only skips its own check).
    #[default]
    GreenOrAdmin,
    /// Any head, for any caller with the write role.
    Any,
}

impl MergePolicy {
    /// The name in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Green => "green",
            Self::GreenOrAdmin => "green-or-admin",
            Self::Any => "any",
        }
    }

    /// Whether a caller (`is_admin`) may merge a head with this CI verdict;
    /// `Err` says why not.
    pub fn check(self, verdict: &CiVerdict, is_admin: bool) -> Result<(), Refusal> {
        let allowed = match self {
            Self::Any => true,
            Self::GreenOrAdmin => is_admin || verdict.is_green(),
            Self::Green => verdict.is_green(),
        };
        if allowed {
            Ok(())
        } else {
            Err(Refusal {
                policy: self,
                verdict: verdict.clone(),
            })
        }
    }
}

impl fmt::Display for MergePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What the branch's CI says about the head being merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CiVerdict {
    /// The newest suite is for this head and passed.
    Green,
    /// The newest suite is for this head and has not passed (yet).
    NotPassed {
        /// Its status, in the service's words (`running`, `failed`, ...).
        status: String,
    },
    /// The newest suite is for another head.
    Stale {
        /// The head it ran on.
        suite_head: String,
        /// The head being merged.
        head: String,
    },
    /// No suite yet.
    NoSuite,
}

impl CiVerdict {
    /// Whether this is [`CiVerdict::Green`].
    pub fn is_green(&self) -> bool {
        matches!(self, Self::Green)
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

impl fmt::Display for CiVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Green => f.write_str("CI passed for this head"),
            Self::NotPassed { status } => write!(f, "CI for this head is {status}, not passed"),
            Self::Stale { suite_head, head } => write!(
                f,
                "the newest CI suite is for head {} but the branch head is {}",
                short(suite_head),
                short(head)
            ),
            Self::NoSuite => f.write_str("this head has no CI suite yet"),
        }
    }
}

/// A merge the policy refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("merge refused by merge_policy = \"{policy}\": {verdict}{}", hint(*.policy))]
pub struct Refusal {
    /// The policy.
    pub policy: MergePolicy,
    /// Why the head does not qualify.
    pub verdict: CiVerdict,
}

fn hint(policy: MergePolicy) -> &'static str {
    match policy {
        MergePolicy::GreenOrAdmin => "; wait for CI or rerun it, or ask an admin",
        _ => "; wait for CI or rerun it",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_policy_decides_as_documented() {
        let red = CiVerdict::NotPassed {
            status: "failed".into(),
        };
        let stale = CiVerdict::Stale {
            suite_head: "a".repeat(40),
            head: "b".repeat(40),
        };
        for (policy, admin, verdict, ok) in [
            (MergePolicy::Green, false, &CiVerdict::Green, true),
            (MergePolicy::Green, true, &red, false),
            (MergePolicy::Green, true, &stale, false),
            (MergePolicy::GreenOrAdmin, false, &red, false),
            (MergePolicy::GreenOrAdmin, false, &stale, false),
            (MergePolicy::GreenOrAdmin, false, &CiVerdict::NoSuite, false),
            (MergePolicy::GreenOrAdmin, true, &red, true),
            (MergePolicy::GreenOrAdmin, false, &CiVerdict::Green, true),
            (MergePolicy::Any, false, &red, true),
        ] {
            assert_eq!(
                policy.check(verdict, admin).is_ok(),
                ok,
                "{policy} {admin} {verdict}"
            );
        }
        let err = MergePolicy::Green
            .check(&stale, false)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "merge refused by merge_policy = \"green\": the newest CI suite is for head aaaaaaaaaaaa but the branch head is bbbbbbbbbbbb; wait for CI or rerun it"
        );
    }

    #[test]
    fn the_default_is_green_or_admin_and_names_parse() {
        assert_eq!(MergePolicy::default(), MergePolicy::GreenOrAdmin);
        #[derive(Deserialize)]
        struct T {
            p: MergePolicy,
        }
        for p in [
            MergePolicy::Green,
            MergePolicy::GreenOrAdmin,
            MergePolicy::Any,
        ] {
            let t: T = serde_json::from_str(&format!("{{\"p\":\"{p}\"}}")).unwrap();
            assert_eq!(t.p, p);
        }
        assert!(serde_json::from_str::<T>("{\"p\":\"red\"}").is_err());
    }
}

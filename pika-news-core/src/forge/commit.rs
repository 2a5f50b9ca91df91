//! [`CommitId`]: a commit named by its full id.

use std::fmt;

/// A full commit id (40 or 64 lowercase hex digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CommitId(String);

impl CommitId {
    /// Validates a commit id; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        ((s.len() == 40 || s.len() == 64)
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| Self(s.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_ids_are_full_lowercase_hex() {
        assert!(CommitId::parse(&"a".repeat(40)).is_some());
        assert!(CommitId::parse(&"0".repeat(64)).is_some());
        for bad in [
            "A".repeat(40),
            "a".repeat(39),
            "g".repeat(40),
            String::new(),
        ] {
            assert!(CommitId::parse(&bad).is_none(), "{bad}");
        }
    }
}

//! [`TokenCache`]: the tokens seen valid, by hash, so most requests do not
//! query the tokens table.
//!
//! The cache is only trusted while the database has not changed: every
//! lookup first learns whether any of the database's files was written since
//! the last lookup, from the caller's watch of them (the server's
//! the server's disk watch, one non-blocking read of an
//! inotify descriptor per request), or else from SQLite's `PRAGMA
//! data_version` (a number that moves whenever any other connection, in this
//! process or another one such as `pika-news token revoke`, commits). Either
//! way, a change empties the cache before it is used, so a revocation takes
//! effect on the very next request. Only valid tokens are kept, at most
//! [`MAX_TOKENS`]; a full cache starts over.

use std::collections::HashMap;

use subtle::ConstantTimeEq;

use jiff::Timestamp;

use super::Role;

/// How many valid tokens are kept at most.
pub(crate) const MAX_TOKENS: usize = 1024;

/// A token seen valid: who it is and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The token's name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The Nostr key it was given to at a login, if it was.
    pub npub: Option<String>,
    /// When it stops working, if it does (a login's token).
    pub expires_at: Option<Timestamp>,
}

impl Owner {
    /// Whether it still works at `now`.
    pub(crate) fn valid_at(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|t| now < t)
    }
}

/// Hash of a token → its owner, valid for one `data_version`.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    version: Option<i64>,
    owners: HashMap<[u8; 32], Owner>,
}

impl TokenCache {
    /// Empties the cache when the caller's watch saw the database change.
    pub(crate) fn seen(&mut self, db_changed: bool) {
        if db_changed {
            self.owners.clear();
        }
    }

    /// Forgets everything if the database changed since the cache was filled.
    pub(crate) fn sync(&mut self, data_version: i64) {
        if self.version != Some(data_version) {
            self.owners.clear();
            self.version = Some(data_version);
        }
    }

    /// The owner of the token whose SHA-256 is `digest`, if it was seen valid.
    pub(crate) fn get(&self, digest: &[u8; 32]) -> Option<&Owner> {
        let (stored, owner) = self.owners.get_key_value(digest)?;
        // The map found it by the digest itself; the comparison is constant
        // time all the same, as every token comparison is.
        bool::from(stored.ct_eq(digest)).then_some(owner)
    }

    /// Remembers a token seen valid.
    pub(crate) fn insert(&mut self, hash: [u8; 32], owner: Owner) {
        if self.owners.len() >= MAX_TOKENS {
            self.owners.clear();
        }
        self.owners.insert(hash, owner);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_data_version_empties_it_and_it_stays_bounded() {
        let mut c = TokenCache::default();
        c.sync(1);
        let me = Owner {
            name: "me".into(),
            role: Role::Read,
            npub: None,
            expires_at: None,
        };
        c.insert([1; 32], me.clone());
        c.sync(1);
        assert_eq!(c.get(&[1; 32]), Some(&me));
        c.sync(2);
        assert_eq!(c.get(&[1; 32]), None);
        for i in 0..=MAX_TOKENS {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&(i as u64).to_le_bytes());
            c.insert(key, me.clone());
        }
        assert!(c.owners.len() <= MAX_TOKENS);
    }
}

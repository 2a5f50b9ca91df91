//! API tokens: only a SHA-256 hash of each is stored; comparison is constant-time.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub(crate) use super::token_cache::Owner;
use super::{Db, DbError, Role};

/// A token as listed (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// When it was made.
    pub created_at: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
    /// The Nostr key it was given to at a login, if it was.
    pub npub: Option<String>,
    /// When it stops working, if it does.
    pub expires_at: Option<String>,
}

/// The SHA-256 of a token.
pub(crate) fn token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The stored form of a token: its SHA-256 in hex.
pub(crate) fn hash_token(token: &str) -> String {
    hex::encode(token_digest(token))
}

/// A new random token: `pn_` and 32 random bytes in hex.
pub(super) fn new_secret() -> Result<String, DbError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| DbError::Task(format!("no randomness for a token: {e}")))?;
    Ok(format!("pn_{}", hex::encode(bytes)))
}

impl Db {
    /// Makes a token and returns its secret (shown once; only its hash is kept).
    pub fn create_token(&self, name: &str, role: Role) -> Result<String, DbError> {
        let secret = new_secret()?;
        let (hash, now) = (hash_token(&secret), self.now_text());
        self.call_blocking(|c| {
            let taken: bool = c
                .query_row("SELECT 1 FROM tokens WHERE name = ?1", [name], |_| Ok(true))
                .optional()?
                .unwrap_or(false);
            if taken {
                return Err(DbError::Exists {
                    what: "token",
                    name: name.to_owned(),
                });
            }
            c.execute(
                "INSERT INTO tokens (name, role, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![name, role, hash, now],
            )?;
            Ok(())
        })?;
        Ok(secret)
    }

    /// Every token, oldest first.
    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>, DbError> {
        self.call_blocking(|c| {
            let mut stmt =
                c.prepare("SELECT name, role, created_at, revoked_at, npub, expires_at FROM tokens ORDER BY id")?;
            let rows = stmt.query_map([], |r| {
                Ok(TokenInfo {
                    name: r.get(0)?,
                    role: r.get(1)?,
                    created_at: r.get(2)?,
                    revoked_at: r.get(3)?,
                    npub: r.get(4)?,
                    expires_at: r.get(5)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Revokes a token by name; it stops working at once.
    pub fn revoke_token(&self, name: &str) -> Result<(), DbError> {
        let now = self.now_text();
        self.call_blocking(|c| {
            let n = c.execute(
                "UPDATE tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
                params![name, now],
            )?;
            if n == 0 {
                return Err(DbError::NotFound {
                    what: "active token",
                    name: name.to_owned(),
                });
            }
            Ok(())
        })
    }

    /// The role of a presented token, if it is known and not revoked
    /// (looked up on the blocking pool).
    pub async fn token_role(&self, presented: &str) -> Result<Option<Role>, DbError> {
        Ok(self.token_owner(presented).await?.map(|o| o.role))
    }

    /// The name and role of a presented token, if it is known and not
    /// revoked.
    ///
    /// Tokens seen valid are kept in a
    /// `TokenCache` while the database
    /// does not change; whether it changed is SQLite's `PRAGMA
    /// data_version` (moved by any commit, here or in another process such
    /// as `pika-news token revoke`). Only a token not in the cache is
    /// queried, on a dedicated reader connection with a cached statement. A
    /// revocation is seen by the next request. The check runs on the
    /// blocking pool, never on the caller's runtime thread.
    pub async fn token_owner(&self, presented: &str) -> Result<Option<Owner>, DbError> {
        let (db, presented) = (self.clone(), presented.to_owned());
        tokio::task::spawn_blocking(move || db.check_token(&presented, None, Clone::clone))
            .await
            .map_err(|e| DbError::Task(format!("the token check failed: {e}")))?
    }

    /// [`Db::token_role`] on this thread (a short read on the token check's
    /// own connection).
    pub fn token_role_sync(&self, presented: &str) -> Result<Option<Role>, DbError> {
        self.check_token(presented, None, |o| o.role)
    }

    /// [`Db::token_role`] for a caller that watches the database's files
    /// itself (the server's disk watch) and
    /// says whether they changed since its last call: no SQLite call at all
    /// for a token seen valid before.
    pub fn token_role_watched(
        &self,
        presented: &str,
        db_changed: bool,
    ) -> Result<Option<Role>, DbError> {
        self.check_token(presented, Some(db_changed), |o| o.role)
    }

    /// The role of a token seen valid before, from the cache alone, after
    /// `db_changed` (from the caller's watch of the database's files) is
    /// applied: no SQLite call. `None` when the cache does not have it; then
    /// [`Db::token_role_watched`] (with `false`: the change is applied)
    /// asks the table, which the caller does off its runtime's thread.
    pub fn cached_token_role(
        &self,
        presented: &str,
        db_changed: bool,
    ) -> Result<Option<Role>, DbError> {
        let (digest, now) = (token_digest(presented), self.clock().now());
        self.with_auth_conn(|_, cache| {
            cache.seen(db_changed);
            Ok(cache
                .get(&digest)
                .filter(|o| o.valid_at(now))
                .map(|o| o.role))
        })
    }

    /// What `pick` takes of the owner of a presented token, if it is known
    /// and not revoked (see [`Db::token_owner`]).
    fn check_token<T>(
        &self,
        presented: &str,
        watched: Option<bool>,
        pick: impl Fn(&Owner) -> T,
    ) -> Result<Option<T>, DbError> {
        let (digest, now) = (token_digest(presented), self.clock().now());
        self.with_auth_conn(|c, cache| {
            match watched {
                Some(db_changed) => cache.seen(db_changed),
                None => {
                    let version: i64 = c
                        .prepare_cached("PRAGMA data_version")?
                        .query_row([], |r| r.get(0))?;
                    cache.sync(version);
                }
            }
            if let Some(owner) = cache.get(&digest) {
                // A login's token that expired since it was cached is no
                // longer valid; the table agrees, so nothing more to ask.
                return Ok(owner.valid_at(now).then(|| pick(owner)));
            }
            // Not seen valid since the last change: ask the table.
            let hash = hex::encode(digest);
            type Row = (String, String, Role, Option<String>, Option<String>, Option<String>);
            let row: Option<Row> = c
                .prepare_cached(
                    "SELECT hash, name, role, revoked_at, npub, expires_at FROM tokens WHERE hash = ?1",
                )?
                .query_row([&hash], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
                })
                .optional()?;
            // Compare the hashes in constant time, so the answer's timing does
            // not depend on how much of a guess matched.
            let owner = row.and_then(|(stored, name, role, revoked, npub, expires)| {
                let same: bool = stored.as_bytes().ct_eq(hash.as_bytes()).into();
                // An expiry that does not read as a time ends the token.
                let expires_at =
                    expires.map(|t| t.parse::<Timestamp>().unwrap_or(Timestamp::MIN));
                let owner = Owner {
                    name,
                    role,
                    npub,
                    expires_at,
                };
                (same && revoked.is_none() && owner.valid_at(now)).then_some(owner)
            });
            let picked = owner.as_ref().map(&pick);
            if let Some(o) = owner {
                cache.insert(digest, o);
            }
            Ok(picked)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tokens_are_stored_hashed_and_revocation_is_immediate() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&camino::Utf8PathBuf::try_from(dir.path().join("db.sqlite")).unwrap())
            .unwrap();
        let secret = db.create_token("ci-bot", Role::Write).unwrap();
        assert!(secret.starts_with("pn_") && secret.len() == 67);
        assert!(matches!(
            db.create_token("ci-bot", Role::Read),
            Err(DbError::Exists { .. })
        ));
        assert_eq!(db.token_role(&secret).await.unwrap(), Some(Role::Write));
        assert_eq!(db.token_role("pn_wrong").await.unwrap(), None);
        let owner = db.token_owner(&secret).await.unwrap().expect("valid");
        assert_eq!((owner.name.as_str(), owner.role), ("ci-bot", Role::Write));
        assert_eq!((owner.npub, owner.expires_at), (None, None));
        assert_eq!(db.token_owner("pn_wrong").await.unwrap(), None);
        let stored: String = db
            .call_blocking(|c| Ok(c.query_row("SELECT hash FROM tokens", [], |r| r.get(0))?))
            .unwrap();
        assert_ne!(stored, secret);
        assert_eq!(stored, hash_token(&secret));
        db.revoke_token("ci-bot").unwrap();
        assert_eq!(db.token_role(&secret).await.unwrap(), None);
        assert_eq!(db.token_owner(&secret).await.unwrap(), None);
        assert!(db.revoke_token("ci-bot").is_err());
        let list = db.list_tokens().unwrap();
        assert_eq!(list.len(), 1);
        assert!(list[0].revoked_at.is_some());
        assert!(Role::Admin > Role::Write && Role::Write > Role::Read);
    }

    #[tokio::test]
    async fn a_cached_token_revoked_through_another_connection_fails_next_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = camino::Utf8PathBuf::try_from(dir.path().join("db.sqlite")).unwrap();
        let server = Db::open(&path).unwrap();
        let secret = server.create_token("bot", Role::Read).unwrap();
        // Seen valid (and cached) by the server...
        for _ in 0..3 {
            assert_eq!(server.token_role(&secret).await.unwrap(), Some(Role::Read));
        }
        // ...revoked by another opener of the file, as `pika-news token revoke` is.
        let cli = Db::open(&path).unwrap();
        cli.revoke_token("bot").unwrap();
        assert_eq!(server.token_role(&secret).await.unwrap(), None);
        assert_eq!(server.token_owner(&secret).await.unwrap(), None);
        // A change elsewhere in the database empties the cache, and valid
        // tokens are simply looked up again.
        let other = cli.create_token("other", Role::Write).unwrap();
        assert_eq!(server.token_role(&other).await.unwrap(), Some(Role::Write));
        cli.create_token("third", Role::Read).unwrap();
        assert_eq!(server.token_role(&other).await.unwrap(), Some(Role::Write));
    }
}

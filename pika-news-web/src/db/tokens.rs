//! API tokens: only a SHA-256 hash of each is stored; comparison is constant-time.

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

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
}

/// The stored form of a token.
pub(crate) fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token: `pn_` and 32 random bytes in hex.
fn new_secret() -> Result<String, DbError> {
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
                c.prepare("SELECT name, role, created_at, revoked_at FROM tokens ORDER BY id")?;
            let rows = stmt.query_map([], |r| {
                Ok(TokenInfo {
                    name: r.get(0)?,
                    role: r.get(1)?,
                    created_at: r.get(2)?,
                    revoked_at: r.get(3)?,
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

    /// The role of a presented token, if it is known and not revoked.
    ///
    /// Checked on every request, so it runs on a dedicated reader connection
    /// with a cached statement: in WAL mode a reader never waits for writers,
    /// and a revocation is seen by the next request.
    pub async fn token_role(&self, presented: &str) -> Result<Option<Role>, DbError> {
        let hash = hash_token(presented);
        let row: Option<(String, Role, Option<String>)> = self.with_auth_conn(|c| {
            Ok(
                c.prepare_cached("SELECT hash, role, revoked_at FROM tokens WHERE hash = ?1")?
                    .query_row([&hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?,
            )
        })?;
        // Compare the hashes in constant time, so the answer's timing does not
        // depend on how much of a guess matched.
        Ok(row.and_then(|(stored, role, revoked)| {
            let same: bool = stored.as_bytes().ct_eq(hash.as_bytes()).into();
            (same && revoked.is_none()).then_some(role)
        }))
    }
}

impl Db {
    /// The name and role of a presented token, if it is known and not
    /// revoked (compared as [`Db::token_role`] does).
    pub async fn token_owner(&self, presented: &str) -> Result<Option<(String, Role)>, DbError> {
        let hash = hash_token(presented);
        let row: Option<(String, String, Role, Option<String>)> =
            self.with_auth_conn(|c| {
                Ok(c.prepare_cached(
                    "SELECT hash, name, role, revoked_at FROM tokens WHERE hash = ?1",
                )?
                .query_row([&hash], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?)
            })?;
        Ok(row.and_then(|(stored, name, role, revoked)| {
            let same: bool = stored.as_bytes().ct_eq(hash.as_bytes()).into();
            (same && revoked.is_none()).then_some((name, role))
        }))
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
        assert_eq!(
            db.token_owner(&secret).await.unwrap(),
            Some(("ci-bot".to_owned(), Role::Write))
        );
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
}

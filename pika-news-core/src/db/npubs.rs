//! `ph login`'s side of the database: who may log in with a Nostr key
//! ([`NpubEntry`], the allowlist, each with the role its logins get) and the
//! tokens a login gives ([`LoginToken`], tied to the key and expiring after
//! [`LOGIN_TOKEN_TTL`]).

use crate::login::Npub;
use jiff::{SignedDuration, Timestamp};
use rusqlite::{OptionalExtension, Row, params};

use super::tokens::{hash_token, new_secret};
use super::{Db, DbError, Role, stored_time};

/// How long a login's token works: 90 days, as upstream's.
pub const LOGIN_TOKEN_TTL: SignedDuration = SignedDuration::from_hours(90 * 24);

/// One key of the allowlist.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NpubEntry {
    /// The key, `npub1...`.
    pub npub: String,
    /// The role its logins get.
    pub role: Role,
    /// Why it is there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Whether it may log in.
    pub active: bool,
    /// Who changed it last (`cli`, or an admin's npub or token name).
    pub updated_by: String,
    /// When.
    pub updated_at: String,
}

/// A token a login made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginToken {
    /// The secret, shown once.
    pub secret: String,
    /// Its name in `pika-news token list`.
    pub name: String,
    /// When it stops working.
    pub expires_at: Timestamp,
}

const ENTRY_COLUMNS: &str = "npub, role, note, active, updated_by, updated_at";

fn entry(r: &Row<'_>) -> rusqlite::Result<NpubEntry> {
    Ok(NpubEntry {
        npub: r.get(0)?,
        role: r.get(1)?,
        note: r.get(2)?,
        active: r.get(3)?,
        updated_by: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

impl Db {
    /// Lets `npub` log in with `role` (adds it, or changes it and makes it
    /// active again).
    pub fn allow_npub(
        &self,
        npub: &Npub,
        role: Role,
        note: Option<&str>,
        by: &str,
    ) -> Result<NpubEntry, DbError> {
        self.set_npub(npub, role, note, true, by)
    }

    /// Sets `npub`'s entry: its role, note and whether it is active.
    pub fn set_npub(
        &self,
        npub: &Npub,
        role: Role,
        note: Option<&str>,
        active: bool,
        by: &str,
    ) -> Result<NpubEntry, DbError> {
        let (key, now) = (npub.to_string(), self.now_text());
        self.call_blocking(|c| {
            c.execute(
                "INSERT INTO npub_allowlist (npub, role, note, active, updated_by, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
                 ON CONFLICT (npub) DO UPDATE SET role = ?2, note = ?3, active = ?4,
                     updated_by = ?5, updated_at = ?6",
                params![key, role, note, active, by, now],
            )?;
            if !active {
                revoke_tokens_of(c, &key, &now)?;
            }
            Ok(c.query_row(
                &format!("SELECT {ENTRY_COLUMNS} FROM npub_allowlist WHERE npub = ?1"),
                [&key],
                entry,
            )?)
        })
    }

    /// The entry of `npub`, if it has one.
    pub fn npub_entry(&self, npub: &Npub) -> Result<Option<NpubEntry>, DbError> {
        let key = npub.to_string();
        self.call_blocking(|c| {
            Ok(c.query_row(
                &format!("SELECT {ENTRY_COLUMNS} FROM npub_allowlist WHERE npub = ?1"),
                [&key],
                entry,
            )
            .optional()?)
        })
    }

    /// Every entry, by key.
    pub fn list_npubs(&self) -> Result<Vec<NpubEntry>, DbError> {
        self.call_blocking(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {ENTRY_COLUMNS} FROM npub_allowlist ORDER BY npub"
            ))?;
            let rows = stmt.query_map([], entry)?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
    }

    /// Ends `npub`'s access at once: its entry made inactive and every token
    /// its logins got revoked. Answers how many tokens were revoked.
    pub fn revoke_npub(&self, npub: &Npub, by: &str) -> Result<usize, DbError> {
        let (key, now) = (npub.to_string(), self.now_text());
        self.call_blocking(|c| {
            let tx = c.transaction()?;
            let entries = tx.execute(
                "UPDATE npub_allowlist SET active = 0, updated_by = ?2, updated_at = ?3 WHERE npub = ?1",
                params![key, by, now],
            )?;
            let tokens = revoke_tokens_of(&tx, &key, &now)?;
            if entries == 0 && tokens == 0 {
                return Err(DbError::NotFound {
                    what: "npub",
                    name: key,
                });
            }
            tx.commit()?;
            Ok(tokens)
        })
    }

    /// Makes a token for a login of `npub` with `role`, expiring after
    /// [`LOGIN_TOKEN_TTL`].
    pub fn create_login_token(&self, npub: &Npub, role: Role) -> Result<LoginToken, DbError> {
        let secret = new_secret()?;
        let now = self.clock().now();
        let expires_at = now
            .saturating_add(LOGIN_TOKEN_TTL)
            .unwrap_or(Timestamp::MAX);
        // A name unique per login: the key and the token's first digits.
        let name = format!("login:{npub}:{}", &hash_token(&secret)[..8]);
        let (hash, created, expires) = (
            hash_token(&secret),
            stored_time(now),
            stored_time(expires_at),
        );
        let (key, token_name) = (npub.to_string(), name.clone());
        self.call_blocking(move |c| {
            c.execute(
                "INSERT INTO tokens (name, role, hash, created_at, npub, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![token_name, role, hash, created, key, expires],
            )?;
            Ok(())
        })?;
        Ok(LoginToken {
            secret,
            name,
            expires_at,
        })
    }
}

fn revoke_tokens_of(c: &rusqlite::Connection, npub: &str, now: &str) -> Result<usize, DbError> {
    Ok(c.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE npub = ?1 AND revoked_at IS NULL",
        params![npub, now],
    )?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::login::testing::TestSigner;

    use super::*;
    use crate::clock::ManualClock;

    fn db() -> (tempfile::TempDir, Db, ManualClock) {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = ManualClock::new("2026-12-07T12:00:00Z".parse().expect("a time"));
        let path = camino::Utf8PathBuf::try_from(dir.path().join("db.sqlite")).expect("utf-8");
        let db = Db::open_with_clock(&path, Arc::new(clock.clone())).expect("opens");
        (dir, db, clock)
    }

    #[tokio::test]
    async fn a_login_token_names_its_key_and_expires_after_90_days() {
        let (_dir, db, clock) = db();
        let npub = TestSigner::from_seed(1).npub();
        let token = db.create_login_token(&npub, Role::Write).expect("made");
        assert_eq!(token.expires_at.to_string(), "2027-03-07T12:00:00Z");
        let owner = db
            .token_owner(&token.secret)
            .await
            .expect("looked up")
            .expect("valid");
        assert_eq!(owner.role, Role::Write);
        assert_eq!(owner.npub.as_deref(), Some(npub.to_string().as_str()));
        let listed = db.list_tokens().expect("listed");
        assert_eq!(listed[0].name, token.name);
        assert_eq!(listed[0].npub.as_deref(), Some(npub.to_string().as_str()));
        assert!(listed[0].expires_at.is_some());

        clock.advance(LOGIN_TOKEN_TTL - SignedDuration::from_secs(1));
        assert_eq!(
            db.token_role(&token.secret).await.expect("ok"),
            Some(Role::Write)
        );
        // The cached token expires too, without any change to the database.
        clock.advance(SignedDuration::from_secs(1));
        assert_eq!(db.token_role(&token.secret).await.expect("ok"), None);
        assert_eq!(
            db.cached_token_role(&token.secret, false).expect("ok"),
            None
        );
    }

    #[tokio::test]
    async fn revoking_a_key_ends_its_tokens_at_once() {
        let (_dir, db, _clock) = db();
        let (a, b) = (
            TestSigner::from_seed(1).npub(),
            TestSigner::from_seed(2).npub(),
        );
        let entry = db
            .allow_npub(&a, Role::Read, Some("reviewer"), "cli")
            .expect("allowed");
        assert!(entry.active);
        assert_eq!(
            (entry.role, entry.note.as_deref()),
            (Role::Read, Some("reviewer"))
        );
        db.allow_npub(&b, Role::Admin, None, "cli")
            .expect("allowed");
        let a1 = db.create_login_token(&a, Role::Read).expect("made");
        let a2 = db.create_login_token(&a, Role::Read).expect("made");
        let b1 = db.create_login_token(&b, Role::Admin).expect("made");
        for t in [&a1, &a2, &b1] {
            assert!(db.token_role(&t.secret).await.expect("ok").is_some());
        }
        assert_eq!(db.revoke_npub(&a, "cli").expect("revoked"), 2);
        assert_eq!(db.token_role(&a1.secret).await.expect("ok"), None);
        assert_eq!(db.token_role(&a2.secret).await.expect("ok"), None);
        assert_eq!(
            db.token_role(&b1.secret).await.expect("ok"),
            Some(Role::Admin)
        );
        assert!(!db.npub_entry(&a).expect("read").expect("kept").active);
        assert_eq!(db.list_npubs().expect("listed").len(), 2);
        // Allowed again: a new login works, the old tokens stay revoked.
        db.allow_npub(&a, Role::Write, None, "cli")
            .expect("allowed");
        assert_eq!(db.token_role(&a1.secret).await.expect("ok"), None);
        let unknown = TestSigner::from_seed(3).npub();
        assert!(matches!(
            db.revoke_npub(&unknown, "cli"),
            Err(DbError::NotFound { .. })
        ));
    }
}

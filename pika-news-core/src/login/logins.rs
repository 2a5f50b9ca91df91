//! `ph login`: who may log in with a Nostr key, and with which role.
//!
//! The check of the signed event itself is pika-news-core's
//! [`LoginGate`]; [`Logins`] adds who may log in (the configured
//! `bootstrap_admin_npubs`, admins always, and the active keys of the
//! database's allowlist, with their role) and makes the login's token.

use std::collections::BTreeSet;

use super::{Challenge, LoginError, LoginGate, LoginPolicy, Npub};
use jiff::Timestamp;

use crate::db::{Db, DbError, LoginToken, NpubEntry, Role};

/// Why a login was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoginRefusal {
    /// The event failed a check.
    #[error(transparent)]
    Event(#[from] LoginError),
    /// The key is not on the allowlist.
    #[error("{0} may not log in here: an admin adds it with `pika-news npub allow`")]
    NotAllowed(Npub),
    /// The key's entry was revoked.
    #[error("{0} may no longer log in here: its access was revoked")]
    Revoked(Npub),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A login that passed: the key, its role and the token made for it.
#[derive(Debug)]
pub struct LoggedIn {
    pub npub: Npub,
    pub role: Role,
    pub token: LoginToken,
}

/// The login check and who may log in.
#[derive(Debug)]
pub struct Logins {
    gate: LoginGate,
    admins: BTreeSet<Npub>,
}

impl Default for Logins {
    fn default() -> Self {
        Self::new(LoginPolicy::default(), [])
    }
}

impl Logins {
    /// Logins held to `policy`, with `admins` (`bootstrap_admin_npubs`)
    /// always let in as admins.
    pub fn new(policy: LoginPolicy, admins: impl IntoIterator<Item = Npub>) -> Self {
        Self {
            gate: LoginGate::new(policy),
            admins: admins.into_iter().collect(),
        }
    }

    /// The configured admins, by key.
    pub fn admins(&self) -> impl Iterator<Item = &Npub> {
        self.admins.iter()
    }

    /// Whether `npub` is one of the configured admins (its entry cannot be
    /// changed through the API).
    pub fn is_configured_admin(&self, npub: &Npub) -> bool {
        self.admins.contains(npub)
    }

    /// A new challenge.
    pub fn challenge(&self, now: Timestamp) -> Challenge {
        self.gate.challenge(now)
    }

    /// How many challenges are outstanding.
    pub fn outstanding_challenges(&self) -> usize {
        self.gate.outstanding()
    }

    /// Checks `event_json` posted to `verify_path` and, when it passes and
    /// its key may log in, makes its token. Runs on the caller's thread
    /// (the database calls block): call it on the blocking pool.
    pub fn log_in(
        &self,
        db: &Db,
        event_json: &str,
        verify_path: &str,
    ) -> Result<LoggedIn, LoginRefusal> {
        let now = db.clock().now();
        let npub = self.gate.verify(event_json, verify_path, now)?;
        let role = role_for(&npub, self.admins.contains(&npub), db.npub_entry(&npub)?)?;
        let token = db.create_login_token(&npub, role)?;
        Ok(LoggedIn { npub, role, token })
    }
}

/// The role a login of `npub` gets: admin for a configured admin, else its
/// active entry's role.
fn role_for(
    npub: &Npub,
    configured_admin: bool,
    entry: Option<NpubEntry>,
) -> Result<Role, LoginRefusal> {
    if configured_admin {
        return Ok(Role::Admin);
    }
    match entry {
        Some(e) if e.active => Ok(e.role),
        Some(_) => Err(LoginRefusal::Revoked(*npub)),
        None => Err(LoginRefusal::NotAllowed(*npub)),
    }
}

//! [`LoginGate`]: hands out challenges and checks a signed login event
//! against them, field by field.

use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

use super::challenge::{Challenge, Challenges};
use super::error::LoginError;
use super::event::{LOGIN_KIND, SignedEvent};
use super::npub::Npub;

/// How far an event's `created_at` may be from the server's clock.
pub const MAX_CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(60);

/// The path every verify URL ends with, whatever the prefix.
const VERIFY_SUFFIX: &str = "/auth/verify";

/// What the gate holds a login event to, beyond its signature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginPolicy {
    /// The server's public URL (`[http] public_url`). When set, an event's
    /// `u` tag must be exactly this URL followed by the verify route's path;
    /// when not, it must end with `/auth/verify`.
    pub public_url: Option<String>,
}

/// The login check: its challenges and its policy. Shared by every request
/// (the challenges sit behind a lock held only for a map lookup).
#[derive(Debug)]
pub struct LoginGate {
    challenges: Mutex<Challenges>,
    policy: LoginPolicy,
}

impl LoginGate {
    /// A gate with no challenge out yet.
    pub fn new(policy: LoginPolicy) -> Self {
        Self::with_challenges(policy, Challenges::default())
    }

    /// A gate over `challenges` (a smaller bound, in tests).
    pub fn with_challenges(policy: LoginPolicy, challenges: Challenges) -> Self {
        Self {
            challenges: Mutex::new(challenges),
            policy,
        }
    }

    /// Hands out a new challenge.
    pub fn challenge(&self, now: Timestamp) -> Challenge {
        self.book().issue(now)
    }

    /// How many challenges are outstanding.
    pub fn outstanding(&self) -> usize {
        self.book().len()
    }

    /// Checks `event_json`, posted to `verify_path` (the route's own path,
    /// such as `/git/auth/verify`), at `now`, and answers who signed it.
    ///
    /// Every check runs before the challenge is used, so an event that fails
    /// any of them (a bad signature included) leaves a valid challenge
    /// valid; one that passes uses it up.
    pub fn verify(
        &self,
        event_json: &str,
        verify_path: &str,
        now: Timestamp,
    ) -> Result<Npub, LoginError> {
        let event = SignedEvent::parse(event_json)?;
        let npub = event.verify()?;
        if event.kind != LOGIN_KIND {
            return Err(LoginError::WrongKind { found: event.kind });
        }
        self.book().check(&event.content, now)?;
        check_time(event.created_at, now)?;
        check_method(&event)?;
        self.check_url(&event, verify_path)?;
        self.book().take(&event.content, now)?;
        Ok(npub)
    }

    fn check_url(&self, event: &SignedEvent, verify_path: &str) -> Result<(), LoginError> {
        let found = event.tag("u");
        let (ok, expected) = match &self.policy.public_url {
            Some(base) => {
                let expected = format!("{}{verify_path}", base.trim_end_matches('/'));
                (found == Some(expected.as_str()), expected)
            }
            None => {
                let ok = found.is_some_and(|u| {
                    (u.starts_with("http://") || u.starts_with("https://"))
                        && u.ends_with(VERIFY_SUFFIX)
                });
                (ok, format!("an http(s) URL ending in {VERIFY_SUFFIX}"))
            }
        };
        if ok {
            Ok(())
        } else {
            Err(LoginError::WrongUrl {
                found: shown(found),
                expected,
            })
        }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Challenges> {
        // A panic while holding the lock cannot leave the map half-changed
        // in a way that matters: keep serving.
        self.challenges.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn check_time(created_at: u64, now: Timestamp) -> Result<(), LoginError> {
    let now = now.as_second();
    let skew = i128::from(created_at).abs_diff(i128::from(now));
    let limit = MAX_CLOCK_SKEW.as_secs().unsigned_abs();
    if skew > u128::from(limit) {
        return Err(LoginError::Stale {
            skew_secs: u64::try_from(skew).unwrap_or(u64::MAX),
        });
    }
    Ok(())
}

fn check_method(event: &SignedEvent) -> Result<(), LoginError> {
    match event.tag("method") {
        Some("POST") => Ok(()),
        other => Err(LoginError::WrongMethod {
            found: shown(other),
        }),
    }
}

/// A tag's value for a message: quoted, or `missing`.
fn shown(value: Option<&str>) -> String {
    match value {
        Some(v) => format!("{v:?}"),
        None => "missing".to_owned(),
    }
}

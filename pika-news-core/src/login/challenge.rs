//! [`Challenges`]: the login challenges handed out and not yet used. Each is
//! random, used once, and lives [`CHALLENGE_TTL`]; at most
//! [`MAX_OUTSTANDING`] are kept, so a flood of requests cannot grow memory
//! (the oldest goes first).

use std::collections::{HashMap, VecDeque};

use jiff::{SignedDuration, Timestamp};

/// How long a challenge may be used after it was handed out.
pub const CHALLENGE_TTL: SignedDuration = SignedDuration::from_secs(120);

/// How many challenges are kept at once. Past this, handing out one more
/// forgets the oldest: a flood costs its own earlier challenges (and a
/// client's that waited behind thousands of others), never memory.
pub const MAX_OUTSTANDING: usize = 4096;

/// A challenge handed out: 32 hex digits of randomness, and when it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    nonce: String,
    expires_at: Timestamp,
}

impl Challenge {
    /// The text the client signs as its event's content.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// When it stops being accepted.
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }
}

/// Why a challenge cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    /// Never handed out, already used, or forgotten (long expired, or pushed
    /// out by newer ones).
    #[error("the challenge is unknown or was already used; ask for a new one")]
    Unknown,
    /// Handed out, but more than [`CHALLENGE_TTL`] ago.
    #[error("the challenge expired; ask for a new one")]
    Expired,
}

/// The challenges handed out and not yet used.
#[derive(Debug)]
pub struct Challenges {
    expiry: HashMap<String, Timestamp>,
    /// Nonces in the order they were handed out (some maybe used already).
    order: VecDeque<String>,
    capacity: usize,
}

impl Default for Challenges {
    fn default() -> Self {
        Self::with_capacity(MAX_OUTSTANDING)
    }
}

impl Challenges {
    /// An empty set that keeps at most `capacity` challenges (at least one).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            expiry: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Hands out a new challenge at `now`.
    pub fn issue(&mut self, now: Timestamp) -> Challenge {
        self.forget_expired(now);
        if self.order.len() > 2 * self.capacity {
            // Used challenges leave their place in the queue behind.
            let expiry = &self.expiry;
            self.order.retain(|nonce| expiry.contains_key(nonce));
        }
        while self.expiry.len() >= self.capacity {
            self.forget_oldest();
        }
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the system's random source works");
        let nonce = hex::encode(bytes);
        let expires_at = now.saturating_add(CHALLENGE_TTL).unwrap_or(Timestamp::MAX);
        self.expiry.insert(nonce.clone(), expires_at);
        self.order.push_back(nonce.clone());
        Challenge { nonce, expires_at }
    }

    /// Whether `nonce` may be used at `now`, without using it.
    pub fn check(&self, nonce: &str, now: Timestamp) -> Result<(), ChallengeError> {
        match self.expiry.get(nonce) {
            None => Err(ChallengeError::Unknown),
            Some(expires_at) if now >= *expires_at => Err(ChallengeError::Expired),
            Some(_) => Ok(()),
        }
    }

    /// Uses `nonce` at `now`: it is accepted once.
    pub fn take(&mut self, nonce: &str, now: Timestamp) -> Result<(), ChallengeError> {
        self.check(nonce, now)?;
        self.expiry.remove(nonce);
        Ok(())
    }

    /// How many challenges are kept (some maybe expired, until the next
    /// [`Challenges::issue`]).
    pub fn len(&self) -> usize {
        self.expiry.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.expiry.is_empty()
    }

    fn forget_expired(&mut self, now: Timestamp) {
        // Handed out in order, so expired ones are at the front (unless the
        // clock went back; then they go when capacity pushes them out).
        while let Some(front) = self.order.front() {
            match self.expiry.get(front) {
                Some(expires_at) if now < *expires_at => break,
                _ => {
                    let front = self.order.pop_front().expect("just seen");
                    self.expiry.remove(&front);
                }
            }
        }
    }

    fn forget_oldest(&mut self) {
        while let Some(front) = self.order.pop_front() {
            if self.expiry.remove(&front).is_some() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Timestamp {
        "2026-12-07T12:00:00Z".parse().expect("a time")
    }

    #[test]
    fn a_challenge_is_random_and_used_once() {
        let mut book = Challenges::default();
        let a = book.issue(t0());
        let b = book.issue(t0());
        assert_ne!(a.nonce(), b.nonce());
        assert_eq!(a.nonce().len(), 32);
        assert!(a.nonce().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a.expires_at(), t0() + CHALLENGE_TTL);

        assert_eq!(book.check(a.nonce(), t0()), Ok(()));
        assert_eq!(book.take(a.nonce(), t0()), Ok(()));
        assert_eq!(book.take(a.nonce(), t0()), Err(ChallengeError::Unknown));
        assert_eq!(book.take("0123", t0()), Err(ChallengeError::Unknown));
        assert_eq!(book.take(b.nonce(), t0()), Ok(()));
    }

    #[test]
    fn a_challenge_expires_after_its_ttl() {
        let mut book = Challenges::default();
        let c = book.issue(t0());
        let just_before = t0() + CHALLENGE_TTL - SignedDuration::from_millis(1);
        assert_eq!(book.check(c.nonce(), just_before), Ok(()));
        assert_eq!(
            book.take(c.nonce(), t0() + CHALLENGE_TTL),
            Err(ChallengeError::Expired)
        );
        // Still known as expired until a later issue forgets it.
        assert_eq!(book.len(), 1);
        book.issue(t0() + CHALLENGE_TTL);
        assert_eq!(book.len(), 1, "the expired one was forgotten");
        assert_eq!(
            book.take(c.nonce(), t0() + CHALLENGE_TTL),
            Err(ChallengeError::Unknown)
        );
    }

    #[test]
    fn a_flood_keeps_memory_flat_and_forgets_the_oldest_first() {
        let mut book = Challenges::with_capacity(100);
        let first = book.issue(t0());
        let mut last = first.clone();
        for _ in 0..10_000 {
            last = book.issue(t0());
            assert!(book.len() <= 100);
            assert!(
                book.order.len() <= 100 + 1,
                "the order queue is bounded too"
            );
        }
        assert_eq!(book.len(), 100);
        assert_eq!(book.take(first.nonce(), t0()), Err(ChallengeError::Unknown));
        assert_eq!(book.take(last.nonce(), t0()), Ok(()));
    }

    #[test]
    fn used_challenges_do_not_count_against_the_bound() {
        let mut book = Challenges::with_capacity(2);
        let a = book.issue(t0());
        book.take(a.nonce(), t0()).expect("fresh");
        let b = book.issue(t0());
        let c = book.issue(t0());
        assert_eq!(book.check(b.nonce(), t0()), Ok(()), "a used one made room");
        assert_eq!(book.check(c.nonce(), t0()), Ok(()));
    }
}

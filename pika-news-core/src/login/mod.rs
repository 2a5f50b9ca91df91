//! `ph login`: a Nostr event of kind 27235 (NIP-98 style) signed over a
//! single-use challenge, checked field by field.
//!
//! The flow: `POST {prefix}/auth/challenge` gives a [`Challenge`];
//! the client signs an event whose content is the challenge and whose tags
//! name the verify URL and the method; `POST {prefix}/auth/verify` hands the
//! event to [`LoginGate::verify`], which answers the [`Npub`] that signed
//! it, or a [`LoginError`] naming the check that failed. Who may log in
//! (the allowlist) and the token given are the caller's.

mod challenge;
mod error;
mod event;
mod gate;
#[cfg(test)]
mod gate_tests;
mod logins;
mod npub;
#[cfg(any(test, feature = "test-helpers"))]
pub mod testing;

pub use challenge::{CHALLENGE_TTL, Challenge, ChallengeError, Challenges, MAX_OUTSTANDING};
pub use error::LoginError;
pub use event::{EventError, LOGIN_KIND, SignedEvent};
pub use gate::{LoginGate, LoginPolicy, MAX_CLOCK_SKEW};
pub use logins::{LoginRefusal, Logins};
pub use npub::{Npub, NpubError};

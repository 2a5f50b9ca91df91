//! [`LoginError`]: every way a login can fail, each saying which check it
//! was, for the `401 {"error": ...}` answer.

use super::challenge::ChallengeError;
use super::event::EventError;

/// Why a login event was refused. The message names the check that failed
/// and is safe to show the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// The event is not a well-formed signed event, its id is not its
    /// hash, or its signature does not verify.
    #[error(transparent)]
    Event(#[from] EventError),
    /// The event's kind is not a login's.
    #[error("the event kind is {found}; a login event has kind 27235")]
    WrongKind {
        /// The kind the event has.
        found: u32,
    },
    /// The event's content is no challenge this server can accept.
    #[error("the event's content: {0}")]
    Challenge(#[from] ChallengeError),
    /// The event was made too long before or after the server's now.
    #[error(
        "the event's created_at is {skew_secs} s from the server's clock; at most 60 s is accepted"
    )]
    Stale {
        /// How far apart, in seconds.
        skew_secs: u64,
    },
    /// The `method` tag is missing or not `POST`.
    #[error("the event's method tag is {found}; a login needs [\"method\", \"POST\"]")]
    WrongMethod {
        /// What the tag says (`missing` when there is none).
        found: String,
    },
    /// The `u` tag is missing or names another URL.
    #[error("the event's u tag is {found}; it must be {expected}")]
    WrongUrl {
        /// What the tag says (`missing` when there is none).
        found: String,
        /// What it must be (or end with).
        expected: String,
    },
}

//! pika-news without HTTP: what the service decides, apart from how it is
//! served.
//!
//! - [`login`]: `ph login`'s Nostr login (NIP-98 style): [`login::Npub`]
//!   (NIP-19 keys), [`login::SignedEvent`] (NIP-01 events, their id and
//!   BIP-340 signature), [`login::Challenges`] (single-use, expiring and
//!   bounded) and [`login::LoginGate`], which checks a signed login event
//!   against all of them and says which check failed.
//! - [`forge`]: merging a branch into the default branch and closing it, in
//!   the canonical bare repository ([`forge::merge_branch`],
//!   [`forge::close_branch`]), the [`forge::MergePolicy`] the server enforces,
//!   and the repository's hooks ([`forge::install_hooks`], [`forge::WakeWatch`]).
//!
//! Nothing here binds a port, speaks HTTP or renders HTML: the web crate
//! calls it.
//!
//! ```
//! use jiff::Timestamp;
//! use pika_news_core::login::{LoginGate, LoginPolicy};
//!
//! let gate = LoginGate::new(LoginPolicy::default());
//! let now: Timestamp = "2026-12-07T12:00:00Z".parse()?;
//! let challenge = gate.challenge(now);
//! assert_eq!(challenge.nonce().len(), 32);
//! // An event that is not even JSON is refused, and says so.
//! let err = gate.verify("not json", "/git/auth/verify", now).unwrap_err();
//! assert!(err.to_string().contains("not a Nostr event"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod forge;
pub mod login;

//! pika-news without HTTP: what the service decides, apart from how it is
//! served.
//!
//! - [`config`]: `pika-news.toml` ([`config::Config`]), with the repository's
//!   pikaci state root and its [`data_dir::DataDir`]; `[http]` is
//!   [`http_limits::HttpLimits`].
//! - [`db`]: SQLite (tokens, npubs, branches, suites, lanes, nightly runs),
//!   migrated on open, with typed rows and a [`clock::Clock`] for every time
//!   it stores.
//! - [`scheduler`]: branch heads become suites and lanes, which it claims,
//!   leases and runs ([`lanes`]: manifests, git, the lane runner, cgroups and
//!   limits) in the [`sandbox`] (the lane's user, its files, its search path).
//! - [`login`]: `ph login`'s Nostr login (NIP-98 style): [`login::Npub`]
//!   (NIP-19 keys), [`login::SignedEvent`] (NIP-01 events, their id and
//!   BIP-340 signature), [`login::Challenges`] (single-use, expiring and
//!   bounded), [`login::LoginGate`], which checks a signed login event
//!   against all of them and says which check failed, and [`login::Logins`]:
//!   who may log in, with which role.
//! - [`ph_session`]: the session file upstream's `ph` client reads.
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

pub mod clock;
pub mod config;
pub mod data_dir;
pub mod db;
pub mod http_limits;
pub mod lanes;
pub mod login;
pub mod ph_session;
pub mod sandbox;
pub mod scheduler;

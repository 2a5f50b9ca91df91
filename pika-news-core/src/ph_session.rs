//! [`PhSession`]: the session file upstream's `ph` client reads its server
//! and token from (`$XDG_STATE_HOME/ph/session.json`, else
//! `~/.local/state/ph/session.json`, or `<--state-dir>/session.json`), made
//! from a pika-news token instead of `ph login`'s Nostr login.
//!
//! ```json
//! {"base_url": "https://ci.example.org", "token": "pn_...", "npub": "alice",
//!  "is_admin": false, "can_forge_write": true}
//! ```

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;

use camino::Utf8Path;
use serde::{Deserialize, Serialize};

use crate::db::Role;

/// `ph`'s session, field for field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhSession {
    /// Where the server is, without a trailing `/` (`ph` adds `/news/...`).
    pub base_url: String,
    /// The bearer token.
    pub token: String,
    /// Who the token is: its name (upstream's Nostr `npub`).
    pub npub: String,
    /// Whether the token has the admin role.
    pub is_admin: bool,
    /// Whether the token may act on lanes (write or admin role).
    pub can_forge_write: bool,
}

/// Why a session file could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PhSessionError {
    /// The base URL is not an `http://` or `https://` address.
    #[error(
        "invalid base URL {0:?}: give the server's address, e.g. https://ci.example.org or http://127.0.0.1:8787"
    )]
    BaseUrl(String),
    /// The file could not be written.
    #[error("cannot write the ph session file {path}")]
    Write {
        /// The file.
        path: camino::Utf8PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// `base_url` checked and without a trailing `/`.
pub fn checked_base_url(base_url: &str) -> Result<String, PhSessionError> {
    let trimmed = base_url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    let ok = rest.is_some_and(|r| {
        !r.is_empty()
            && !r.starts_with('/')
            && !r
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#'))
    });
    if ok {
        Ok(trimmed.to_owned())
    } else {
        Err(PhSessionError::BaseUrl(
            base_url.chars().take(200).collect(),
        ))
    }
}

impl PhSession {
    /// The session of a token named `name` with `role`, for the server at `base_url`.
    pub fn new(
        base_url: &str,
        token: String,
        name: &str,
        role: Role,
    ) -> Result<Self, PhSessionError> {
        Ok(Self {
            base_url: checked_base_url(base_url)?,
            token,
            npub: name.to_owned(),
            is_admin: role == Role::Admin,
            can_forge_write: role >= Role::Write,
        })
    }

    /// Writes the session to `path` (its folder is made if needed): readable
    /// by its owner only, replaced atomically.
    pub fn write(&self, path: &Utf8Path) -> Result<(), PhSessionError> {
        let err = |source| PhSessionError::Write {
            path: path.to_owned(),
            source,
        };
        let dir = path
            .parent()
            .filter(|d| !d.as_str().is_empty())
            .unwrap_or(Utf8Path::new("."));
        std::fs::create_dir_all(dir).map_err(err)?;
        let name = path.file_name().unwrap_or("session.json");
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let written = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            let mut bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
            bytes.push(b'\n');
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written.map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn base_urls_are_checked_and_trimmed() {
        for (given, kept) in [
            ("http://127.0.0.1:8787", "http://127.0.0.1:8787"),
            ("https://ci.example.org/", "https://ci.example.org"),
            (
                " https://ci.example.org/pika// ",
                "https://ci.example.org/pika",
            ),
        ] {
            assert_eq!(checked_base_url(given).unwrap(), kept);
        }
        for bad in [
            "",
            "ci.example.org",
            "ftp://x",
            "http://",
            "http:///x",
            "http://a b",
            "http://x?token=1",
        ] {
            assert!(checked_base_url(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_session_says_what_the_role_allows_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = camino::Utf8PathBuf::try_from(dir.path().join("state/ph/session.json")).unwrap();
        let s = PhSession::new(
            "http://127.0.0.1:8787/",
            "pn_x".into(),
            "alice",
            Role::Write,
        )
        .unwrap();
        assert_eq!((s.is_admin, s.can_forge_write), (false, true));
        s.write(&path).unwrap();
        s.write(&path).unwrap();
        let back: PhSession =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.base_url, "http://127.0.0.1:8787");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let admin = PhSession::new("http://x", "t".into(), "root", Role::Admin).unwrap();
        assert_eq!((admin.is_admin, admin.can_forge_write), (true, true));
        let read = PhSession::new("http://x", "t".into(), "ro", Role::Read).unwrap();
        assert_eq!((read.is_admin, read.can_forge_write), (false, false));
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1,
            "no temporary file is left"
        );
    }
}

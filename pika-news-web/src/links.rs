//! The addresses the server prints: every route is served under two
//! prefixes, `/git` (today's pika-git) and `/news` (the older pika-news),
//! and a link printed in an answer stays under the prefix the request came
//! in on ([`Prefix`]).

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// The prefix every route is declared under: today's pika-git and its `ph`.
pub const GIT_PREFIX: &str = "/git";

/// The older prefix (pika-news and the `ph` of its day): every route under
/// [`GIT_PREFIX`] is served under it too, by the same handler.
pub const NEWS_PREFIX: &str = "/news";

/// The address of the sign-in form (served under both prefixes; the form
/// posts here whichever it was shown under).
pub(crate) const SIGN_IN: &str = "/news/sign-in";

/// The address of the sign-in form, going back to `back` (a page of this
/// server) once signed in.
pub(crate) fn sign_in_address(back: &str) -> String {
    format!("{SIGN_IN}?back={}", percent_encode(back))
}

/// Encodes `s` for a query value: all but unreserved characters and `/`.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The prefix a request came in on: `/news` for a path under it, else
/// `/git`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prefix {
    /// `/git`.
    Git,
    /// `/news`.
    News,
}

impl Prefix {
    /// The prefix of `path`.
    pub(crate) fn of_path(path: &str) -> Self {
        match path.strip_prefix(NEWS_PREFIX) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => Self::News,
            _ => Self::Git,
        }
    }

    /// `/git` or `/news`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Git => GIT_PREFIX,
            Self::News => NEWS_PREFIX,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Prefix {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of_path(parts.uri.path()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_the_first_segment() {
        assert_eq!(Prefix::of_path("/news/branch/1"), Prefix::News);
        assert_eq!(Prefix::of_path("/news"), Prefix::News);
        assert_eq!(Prefix::of_path("/git/branch/1"), Prefix::Git);
        assert_eq!(Prefix::of_path("/newsroom/x"), Prefix::Git);
        assert_eq!(Prefix::of_path("/"), Prefix::Git);
    }
}

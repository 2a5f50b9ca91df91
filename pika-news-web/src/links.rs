//! The addresses the server prints: every route is served under two
//! prefixes, `/git` (today's pika-git) and `/news` (the older pika-news),
//! and a link printed in an answer stays under the prefix the request came
//! in on ([`Prefix`]).

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::api::routes::{GIT_PREFIX, NEWS_PREFIX};

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

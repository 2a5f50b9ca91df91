//! The addresses the server prints: every route is served under two
//! prefixes, `/git` (today's pika-git) and `/news` (the older pika-news),
//! and a link printed in an answer or a page stays under the prefix the
//! request came in on ([`Prefix`]). Every address a page or an answer
//! prints is made here, from the prefix, so none is written twice.

use std::convert::Infallible;
use std::fmt::Display;

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::request::Parts;
use pikaci_core::{JobId, LogFile, RunId};

/// The prefix every route is declared under: today's pika-git and its `ph`.
pub(crate) const GIT_PREFIX: &str = "/git";

/// The older prefix (pika-news and the `ph` of its day): every route under
/// [`GIT_PREFIX`] is served under it too, by the same handler.
pub(crate) const NEWS_PREFIX: &str = "/news";

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

/// Percent-encodes a query value (everything but unreserved characters).
pub(crate) fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The word a log file has in a query (`kind=host|guest`).
pub(crate) fn kind_word(file: LogFile) -> &'static str {
    match file {
        LogFile::Host => "host",
        LogFile::Guest => "guest",
    }
}

/// A query string naming a job's log (`job=..&kind=..`), as the lane page
/// and the log routes read it.
pub(crate) fn job_query(job: &str, kind: &str) -> String {
    format!("job={}&kind={}", query_value(job), query_value(kind))
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

    /// The CI overview page: `{prefix}/ci`.
    pub(crate) fn ci(self) -> String {
        format!("{}/ci", self.as_str())
    }

    /// A branch's CI page: `{prefix}/branch/{id}/ci`.
    pub(crate) fn branch_page(self, branch: impl Display) -> String {
        format!("{}/branch/{branch}/ci", self.as_str())
    }

    /// A commit's CI status on this server:
    /// `{prefix}/api/forge/commit/{sha}/status`.
    pub(crate) fn commit_status(self, sha: &str) -> String {
        format!(
            "{}/api/forge/commit/{}/status",
            self.as_str(),
            query_value(sha)
        )
    }

    /// A nightly run's page: `{prefix}/nightly/{id}`.
    pub(crate) fn nightly_page(self, nightly: impl Display) -> String {
        format!("{}/nightly/{nightly}", self.as_str())
    }

    /// The sign-in form (the form posts here whichever prefix it was shown
    /// under).
    pub(crate) fn sign_in(self) -> String {
        format!("{}/sign-in", self.as_str())
    }

    /// Where the sign-in form's "Sign out" posts: `{prefix}/sign-out`.
    pub(crate) fn sign_out(self) -> String {
        format!("{}/sign-out", self.as_str())
    }

    /// The sign-in form, going back to `back` (a page of this server) once
    /// signed in.
    pub(crate) fn sign_in_address(self, back: &str) -> String {
        format!("{}?back={}", self.sign_in(), percent_encode(back))
    }

    /// A lane action's route (`rerun`, `requeue`, `fail`), which the lane
    /// buttons post to.
    pub(crate) fn lane_action(self, lane: impl Display, action: &str) -> String {
        format!("{}/api/forge/lane/{lane}/{action}", self.as_str())
    }

    /// A lane run's own log, as JSON by offset and limit.
    pub(crate) fn lane_log(self, lane: impl Display) -> String {
        format!("{}/api/forge/lane/{lane}/log", self.as_str())
    }

    /// The raw route of a run's logs, without the query.
    pub(crate) fn raw_path(self, run: &RunId) -> String {
        format!("{}/api/forge/pikaci/logs/{run}/raw", self.as_str())
    }

    /// The raw route's URL (path and query) for one log of a job.
    pub(crate) fn raw_url(self, run: &RunId, job: &JobId, file: LogFile) -> String {
        format!(
            "{}?{}",
            self.raw_path(run),
            job_query(job.as_str(), kind_word(file))
        )
    }

    /// The stream route (Server-Sent Events) for one log of a job.
    pub(crate) fn stream_url(self, run: &RunId, job: &JobId, file: LogFile) -> String {
        format!(
            "{}/api/forge/pikaci/logs/{run}/stream?{}",
            self.as_str(),
            job_query(job.as_str(), kind_word(file))
        )
    }
}

/// The family of a request: a page (its errors are answered as HTML pages,
/// under its prefix) or not (the API, the login of `ph login`, and
/// everything outside both prefixes, whose errors are JSON). Decided by the
/// route families of the route list, never by what the client says it
/// accepts: a page is a `GET` or `HEAD` under `/git` or `/news` outside
/// `{prefix}/api` and `{prefix}/auth`, or the sign-in form's posts (sign in,
/// sign out). A test of
/// `routes` holds every declared route to it.
pub(crate) fn page_request(method: &Method, path: &str) -> Option<Prefix> {
    let prefix = Prefix::of_path(path);
    let rest = path.strip_prefix(prefix.as_str())?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    if *method == Method::POST {
        return (rest == "/sign-in" || rest == "/sign-out").then_some(prefix);
    }
    if *method != Method::GET && *method != Method::HEAD {
        return None;
    }
    let first = rest.trim_start_matches('/').split('/').next().unwrap_or("");
    match first {
        "api" | "auth" => None,
        _ => Some(prefix),
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

    #[test]
    fn addresses_stay_under_their_prefix() {
        let run: RunId = "20260324T161238Z-1a2b3c4d".parse().unwrap();
        let job: JobId = "build".parse().unwrap();
        for p in [Prefix::Git, Prefix::News] {
            let pre = p.as_str();
            assert_eq!(p.branch_page(3), format!("{pre}/branch/3/ci"));
            assert_eq!(p.nightly_page(4), format!("{pre}/nightly/4"));
            assert_eq!(
                p.lane_action(5, "rerun"),
                format!("{pre}/api/forge/lane/5/rerun")
            );
            assert_eq!(
                p.raw_url(&run, &job, LogFile::Host),
                format!("{pre}/api/forge/pikaci/logs/{run}/raw?job={job}&kind=host")
            );
            assert!(
                p.stream_url(&run, &job, LogFile::Guest)
                    .starts_with(&format!("{pre}/api/"))
            );
        }
    }

    #[test]
    fn pages_are_gets_outside_the_api_and_the_login() {
        let get = |p: &str| page_request(&Method::GET, p);
        assert_eq!(get("/news/ci"), Some(Prefix::News));
        assert_eq!(get("/git/branch/1/ci"), Some(Prefix::Git));
        assert_eq!(get("/git/nope"), Some(Prefix::Git));
        assert_eq!(get("/news"), Some(Prefix::News));
        assert_eq!(get("/git/apix"), Some(Prefix::Git));
        assert_eq!(page_request(&Method::HEAD, "/news/ci"), Some(Prefix::News));
        for not_a_page in [
            "/news/api/forge/lane/1",
            "/git/api",
            "/git/api/",
            "/git/auth/verify",
            "/health",
            "/",
            "/nope",
            "/gitx/ci",
            "/newsroom/ci",
        ] {
            assert_eq!(get(not_a_page), None, "{not_a_page}");
        }
        assert_eq!(
            page_request(&Method::POST, "/git/sign-in"),
            Some(Prefix::Git)
        );
        assert_eq!(
            page_request(&Method::POST, "/news/sign-out"),
            Some(Prefix::News)
        );
        assert_eq!(page_request(&Method::POST, "/news/ci"), None);
        assert_eq!(page_request(&Method::POST, "/news/branch/1/ci/rerun"), None);
        assert_eq!(page_request(&Method::DELETE, "/news/ci"), None);
    }

    #[test]
    fn the_back_page_is_encoded_for_the_query() {
        assert_eq!(
            Prefix::News.sign_in_address("/news/branch/1/ci/lane/2?job=a&kind=host"),
            "/news/sign-in?back=/news/branch/1/ci/lane/2%3Fjob%3Da%26kind%3Dhost"
        );
        assert_eq!(
            Prefix::Git.sign_in_address("/git/ci"),
            "/git/sign-in?back=/git/ci"
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_value("a b/c&d=é"), "a%20b%2Fc%26d%3D%C3%A9");
        assert_eq!(job_query("x y", "guest"), "job=x%20y&kind=guest");
    }
}

//! The frame every page shares: head, style, breadcrumbs, the script, and
//! the response headers (a Content-Security-Policy that lets only this
//! response's own script run), and small pieces the pages are made of.

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::Scope;
use crate::db::Lane;
use crate::links::Prefix;

/// The page's style sheet and script: our own files, put in as they are
/// (the contents of `<style>` and `<script>` are raw text, not HTML).
const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("viewer.js");
/// The theme picker's script, run in `<head>` so no page flashes the wrong
/// scheme before it.
const THEME_SCRIPT: &str = include_str!("theme.js");

/// A breadcrumb after the home link: a link, or (the last one) plain text.
#[derive(Debug)]
pub(crate) struct Crumb {
    /// Where it leads; `None` for the page itself.
    pub href: Option<String>,
    /// What it says.
    pub text: String,
}

impl Crumb {
    /// A crumb linking to `href`.
    pub(crate) fn link(href: String, text: impl Into<String>) -> Self {
        Self {
            href: Some(href),
            text: text.into(),
        }
    }

    /// The page's own crumb, not a link.
    pub(crate) fn here(text: impl Into<String>) -> Self {
        Self {
            href: None,
            text: text.into(),
        }
    }
}

/// A page to answer with.
#[derive(Debug)]
pub(crate) struct Page {
    /// The prefix the page was asked for under: the home link stays under it.
    pub prefix: Prefix,
    /// The `<title>`.
    pub title: String,
    /// Breadcrumbs after the home link.
    pub crumbs: Vec<Crumb>,
    /// The `<main>` content.
    pub body: Markup,
    /// Whether something on the page is still running: without a script the
    /// page reloads itself; with one, it refreshes its parts in place.
    pub active: bool,
}

fn nonce() -> String {
    let mut bytes = [0u8; 16];
    // Without randomness the page still works; the policy then only names a
    // value nobody could have predicted less well than a constant.
    let _ = getrandom::fill(&mut bytes);
    hex::encode(bytes)
}

impl Page {
    /// The whole document, its script allowed by `nonce`.
    fn document(&self, nonce: &str) -> Markup {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width,initial-scale=1";
                    meta name="color-scheme" content="light dark";
                    link rel="icon" href="data:,";
                    title { (self.title) }
                    style { (PreEscaped(STYLE)) }
                    script nonce=(nonce) { (PreEscaped(THEME_SCRIPT)) }
                    @if self.active {
                        noscript { meta http-equiv="refresh" content="10"; }
                    }
                }
                body data-active=(u8::from(self.active)) {
                    a.skip href="#main" { "Skip to content" }
                    header.top {
                        nav.crumbs aria-label="Breadcrumbs" {
                            a.brand href=(self.prefix.ci()) { "pika-news CI" }
                            @for crumb in &self.crumbs {
                                @match &crumb.href {
                                    Some(h) => a href=(h) { (crumb.text) },
                                    None => span aria-current="page" { (crumb.text) },
                                }
                            }
                        }
                        // Shown by theme.js: without a script it could not work.
                        label.theme hidden {
                            "Theme"
                            select #theme {
                                option value="auto" { "Auto" }
                                option value="light" { "Light" }
                                option value="dark" { "Dark" }
                            }
                        }
                    }
                    main #main data-swap { (self.body) }
                    script nonce=(nonce) { (PreEscaped(SCRIPT)) }
                }
            }
        }
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let nonce = nonce();
        let html = self.document(&nonce).into_string();
        let csp = format!(
            "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; \
             connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; \
             frame-ancestors 'none'"
        );
        let mut resp = Html(html).into_response();
        let headers = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&csp) {
            headers.insert(header::CONTENT_SECURITY_POLICY, v);
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        resp
    }
}

/// A status with its dot: `<span class="st st-passed">passed</span>`.
pub(crate) fn status(word: &str) -> Markup {
    html! { span class={ "st st-" (word) } { (word) } }
}

/// A status dot with the word only for screen readers and tooltips.
pub(crate) fn status_dot(word: &str) -> Markup {
    html! { span class={ "st st-" (word) } role="img" title=(word) aria-label=(word) {} }
}

/// The first 10 characters of a commit, as code.
pub(crate) fn short_head(head: &str) -> Markup {
    let short: String = head.chars().take(10).collect();
    html! { code title=(head) { (short) } }
}

/// Why a queued lane waits, with a link to the lane it waits for: the
/// reason every answer gives (the rule the scheduler claims by).
pub(crate) fn queue_reason(prefix: Prefix, lane: &Lane) -> Markup {
    let Some(reason) = &lane.queue_reason else {
        return html! {};
    };
    html! {
        div.queue-reason data-queue-reason=(reason.kind()) {
            (reason.to_string())
            @if let Some(holder) = reason.holder() {
                " · " a href=(Scope::from(holder.scope).lane(prefix, holder.lane)) { "lane #" (holder.lane) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_escapes_what_it_is_given_and_links_home_under_its_prefix() {
        let page = Page {
            prefix: Prefix::Git,
            title: "<b>x</b>".into(),
            crumbs: vec![
                Crumb::link("/git/a?b=1&c=2".into(), "a\"b"),
                Crumb::here("<i>"),
            ],
            body: html! { p { "body" } },
            active: true,
        };
        let doc = page.document("n0").into_string();
        assert!(doc.starts_with("<!DOCTYPE html>"), "{doc}");
        assert!(doc.contains("<title>&lt;b&gt;x&lt;/b&gt;</title>"), "{doc}");
        assert!(
            doc.contains("<a class=\"brand\" href=\"/git/ci\">"),
            "{doc}"
        );
        assert!(
            doc.contains(
                "<a href=\"/git/a?b=1&amp;c=2\">a&quot;b</a><span aria-current=\"page\">&lt;i&gt;</span>"
            ),
            "{doc}"
        );
        assert!(
            doc.contains("<main id=\"main\" data-swap><p>body</p></main>"),
            "{doc}"
        );
        assert!(doc.contains("<script nonce=\"n0\">"), "{doc}");
        assert!(doc.contains("http-equiv=\"refresh\""), "{doc}");
        assert_eq!(
            status("pa<ss").into_string(),
            "<span class=\"st st-pa&lt;ss\">pa&lt;ss</span>"
        );
    }
}

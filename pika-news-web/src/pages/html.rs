//! The frame every page shares: head, style, breadcrumbs, the script, and
//! the response headers (a Content-Security-Policy that lets only this
//! response's own script run), and small pieces the pages are made of.

use std::fmt::Write as _;

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

use super::format::escape;

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("viewer.js");

/// A page to answer with.
#[derive(Debug, Default)]
pub(crate) struct Page {
    /// The `<title>`.
    pub title: String,
    /// Breadcrumbs after the home link: `(href, text)`, the last one with
    /// no link.
    pub crumbs: Vec<(Option<String>, String)>,
    /// The `<main>` content (HTML).
    pub body: String,
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

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let nonce = nonce();
        let mut html = String::with_capacity(self.body.len() + STYLE.len() + SCRIPT.len() + 1024);
        let _ = write!(
            html,
            "<!doctype html><html lang=en><head><meta charset=utf-8>\
             <meta name=viewport content=\"width=device-width,initial-scale=1\">\
             <meta name=color-scheme content=\"light dark\"><link rel=icon href=\"data:,\">\
             <title>{title}</title><style>{STYLE}</style>{refresh}</head>\
             <body data-active=\"{active}\"><header class=top><nav class=crumbs><a class=brand href=\"/news/ci\">pika-news CI</a>",
            title = escape(&self.title),
            refresh = if self.active {
                "<noscript><meta http-equiv=refresh content=10></noscript>"
            } else {
                ""
            },
            active = u8::from(self.active),
        );
        for (href, text) in &self.crumbs {
            match href {
                Some(h) => {
                    let _ = write!(html, "<a href=\"{}\">{}</a>", escape(h), escape(text));
                }
                None => {
                    let _ = write!(html, "<span>{}</span>", escape(text));
                }
            }
        }
        let _ = write!(
            html,
            "</nav></header><main id=main data-swap>{}</main><script nonce=\"{nonce}\">{SCRIPT}</script></body></html>",
            self.body
        );
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
pub(crate) fn status(word: &str) -> String {
    let w = escape(word);
    format!("<span class=\"st st-{w}\">{w}</span>")
}

/// A status dot with the word only for screen readers and tooltips.
pub(crate) fn status_dot(word: &str) -> String {
    let w = escape(word);
    format!("<span class=\"st st-{w}\" title=\"{w}\" aria-label=\"{w}\"></span>")
}

/// The first 10 characters of a commit, as code.
pub(crate) fn short_head(head: &str) -> String {
    let short: String = head.chars().take(10).collect();
    format!("<code title=\"{}\">{}</code>", escape(head), escape(&short))
}

//! A commit on the pages: its short id as a link (to the page
//! `[forge_repo] commit_url` names, else to its CI status here), and the
//! head's context: its subject and author, as the last sync saw them.

use maud::{Markup, html};

use super::html::short_head;
use crate::db::BranchMeta;
use crate::links::{Prefix, query_value};
use crate::state::AppState;

/// Where a commit links to.
pub(crate) fn commit_href(state: &AppState, prefix: Prefix, sha: &str) -> String {
    match &state.commit_url {
        Some(url) => url.for_commit(&query_value(sha)),
        None => prefix.commit_status(sha),
    }
}

/// The short id of `sha`, a link to its page.
pub(crate) fn commit_link(state: &AppState, prefix: Prefix, sha: &str) -> Markup {
    html! { a.commit-link href=(commit_href(state, prefix, sha)) { (short_head(sha)) } }
}

/// The head's subject and author, when the sync recorded them.
pub(crate) fn head_context(meta: &BranchMeta) -> Markup {
    html! {
        @if meta.title.is_some() || meta.author.is_some() {
            p.commit #commit {
                @if let Some(s) = &meta.title { span.subject { (s) } }
                @if let Some(a) = &meta.author { span.muted { "by " span.author { (a) } } }
            }
        }
    }
}

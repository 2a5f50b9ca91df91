//! The branch page's Merge and Close buttons: plain forms posting to
//! `{prefix}/branch/{id}/merge|close` with the page's `csrf` field (see
//! [`super::session`]), which send the browser back to the branch page. The
//! server decides whether a merge may happen (`merge_policy`); the fragment
//! only says what that policy is, and shows no button to who may not post.

use maud::{Markup, html};
use pika_news_core::forge::MergePolicy;

use crate::db::{BranchId, BranchState};
use crate::links::Prefix;

/// What the fragment needs of the branch and of the viewer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BranchActions<'a> {
    /// The prefix the page was asked under (the forms post under it too).
    pub(crate) prefix: Prefix,
    /// The branch.
    pub(crate) branch_id: BranchId,
    /// Its state.
    pub(crate) state: BranchState,
    /// Its merge commit, once merged.
    pub(crate) merge_commit: Option<&'a str>,
    /// The viewer's `csrf` field: `None` when they may not post (no write
    /// token in the cookie).
    pub(crate) csrf: Option<&'a str>,
    /// The server's merge policy, shown beside the button.
    pub(crate) policy: MergePolicy,
}

fn policy_note(policy: MergePolicy) -> &'static str {
    match policy {
        MergePolicy::Green => "merges only a head whose CI passed",
        MergePolicy::GreenOrAdmin => "merges a head whose CI passed (an admin may merge any head)",
        MergePolicy::Any => "merges any head",
    }
}

/// The Merge and Close forms of an open branch for a viewer who may post;
/// for a merged or closed branch, what became of it.
pub(crate) fn branch_actions(a: BranchActions<'_>) -> Markup {
    let base = format!("{}/branch/{}", a.prefix.as_str(), a.branch_id);
    let back = format!("{base}/ci");
    match (a.state, a.csrf) {
        (BranchState::Merged, _) => html! {
            p.branch-end { "Merged" @if let Some(c) = a.merge_commit { " as " code { (c.get(..12).unwrap_or(c)) } } "." }
        },
        (BranchState::Closed, _) => html! { p.branch-end { "Closed." } },
        (BranchState::Open, None) => html! {},
        (BranchState::Open, Some(csrf)) => html! {
            div.branch-actions {
                form method="post" action=(format!("{base}/merge")) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="back" value=(back);
                    button type="submit" { "Merge" }
                }
                form method="post" action=(format!("{base}/close")) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="back" value=(back);
                    button type="submit" { "Close" }
                }
                small { "This server " (policy_note(a.policy)) "." }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actions(state: BranchState, csrf: Option<&str>) -> String {
        branch_actions(BranchActions {
            prefix: Prefix::Git,
            branch_id: BranchId::new(7).unwrap(),
            state,
            merge_commit: Some("0123456789abcdef0123"),
            csrf,
            policy: MergePolicy::GreenOrAdmin,
        })
        .into_string()
    }

    #[test]
    fn a_writer_sees_both_forms_with_the_csrf_field_and_the_way_back() {
        let html = actions(BranchState::Open, Some("c5f\"<x>"));
        assert!(
            html.contains(r#"<form method="post" action="/git/branch/7/merge">"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<form method="post" action="/git/branch/7/close">"#),
            "{html}"
        );
        // The template escapes what it is given.
        assert!(
            html.contains(r#"name="csrf" value="c5f&quot;&lt;x&gt;""#),
            "{html}"
        );
        assert!(
            html.contains(r#"name="back" value="/git/branch/7/ci""#),
            "{html}"
        );
        assert!(html.contains("an admin may merge any head"), "{html}");
    }

    #[test]
    fn no_form_without_write_access_or_for_an_ended_branch() {
        assert_eq!(actions(BranchState::Open, None), "");
        let merged = actions(BranchState::Merged, Some("c"));
        assert!(!merged.contains("<form"), "{merged}");
        assert!(
            merged.contains("Merged as <code>0123456789ab</code>."),
            "{merged}"
        );
        assert!(!actions(BranchState::Closed, Some("c")).contains("<form"));
    }
}

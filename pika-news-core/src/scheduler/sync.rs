//! Turning the canonical repository's branch heads into suites and lanes.

use crate::config::ForgeRepo;
use crate::db::{BranchId, BranchMeta, Db, NewLane, SuiteStatus};
use crate::lanes::git::HeadAt;
use crate::lanes::git::{BranchHead, CommitId, Git};
use crate::lanes::lane_source::{NO_LANES, ServerManifest, SourcedLanes, lanes_of_head};

use super::SchedulerError;

/// What one sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// New suites queued (one per new head).
    pub suites: usize,
    /// Lanes queued.
    pub lanes: usize,
    /// Lanes cancelled because a newer head superseded them.
    pub cancelled: usize,
    /// Branches closed because their ref is gone.
    pub closed: usize,
}

/// Looks at every branch head: a head not seen before gets a suite with the
/// lanes its lane source selects ([`lanes_of_head`]; an error gives a failed
/// suite that says what is wrong); older suites' unfinished lanes are cancelled; branches
/// whose ref is gone are closed.
pub async fn sync_heads(
    db: &Db,
    git: &Git,
    repo: &ForgeRepo,
) -> Result<SyncReport, SchedulerError> {
    let heads = git.call(|g| g.list_branch_heads()).await?;
    sync_listed_heads(db, git, repo, &heads).await
}

/// [`sync_heads`] with the branch heads already listed.
pub(super) async fn sync_listed_heads(
    db: &Db,
    git: &Git,
    repo: &ForgeRepo,
    heads: &[BranchHead],
) -> Result<SyncReport, SchedulerError> {
    let mut report = SyncReport::default();
    for BranchHead { name, commit } in heads {
        let known = match db.branch_by_name(name).await? {
            Some(b) => db.newest_suite(b.id).await?.map(|(_, head)| head),
            None => None,
        };
        if known.as_deref() == Some(commit.as_str()) {
            continue;
        }
        let branch = db.upsert_branch(name, commit.as_str()).await?;
        let merge_base = record_meta(db, git, repo, branch, commit).await?;
        // A head whose lanes cannot be known gets a failed suite saying why;
        // it must not stop the sync of every other branch.
        let (at, server) = (commit.clone(), repo.lanes_manifest.clone());
        let sourced = git
            .call(move |g| {
                let server = server.as_deref().map(ServerManifest::read);
                Ok(lanes_of_head(
                    &HeadAt {
                        git: g,
                        commit: &at,
                    },
                    server,
                ))
            })
            .await?;
        let suite = match sourced {
            Err(e) => {
                db.insert_suite(
                    branch,
                    commit.as_str(),
                    SuiteStatus::Failed,
                    Some(&e.to_string()),
                )
                .await?
            }
            Ok(None) => {
                db.insert_suite(branch, commit.as_str(), SuiteStatus::Passed, Some(NO_LANES))
                    .await?
            }
            Ok(Some(SourcedLanes { source, manifest })) => {
                // The files changed since the merge base: `git diff base...head`
                // without working the merge base out again. No merge base (no
                // default branch, or no shared history) leaves them unknown,
                // as that diff fails then.
                let changed = match merge_base {
                    Some(base) if name != &repo.default_branch => {
                        let head = commit.clone();
                        git.call(move |g| g.changed_files_since(Some(&base), &head))
                            .await
                            .ok()
                    }
                    _ => None,
                };
                let selected = manifest.select(changed.as_deref());
                let status = if selected.is_empty() {
                    SuiteStatus::Passed
                } else {
                    SuiteStatus::Running
                };
                let message = selected
                    .is_empty()
                    .then_some("no lane matches the changed files");
                let suite = db
                    .insert_suite_from(branch, commit.as_str(), status, message, Some(source))
                    .await?;
                for lane in selected {
                    db.insert_lane_shown(
                        NewLane {
                            suite_id: suite,
                            lane: lane.id.as_str().to_owned(),
                            title: lane.title.clone(),
                            concurrency_group: lane.concurrency_group.clone(),
                            command: serde_json::to_string(&lane.command).ok(),
                            timeout_secs: lane.timeout_secs,
                        },
                        Some(lane.shown_entrypoint()),
                    )
                    .await?;
                    report.lanes += 1;
                }
                suite
            }
        };
        report.suites += 1;
        report.cancelled += db.cancel_superseded(branch, suite).await?;
    }
    report.closed = db
        .close_missing_branches(heads.iter().map(|h| h.name.clone()).collect())
        .await?;
    Ok(report)
}

/// Records the head's subject and its merge base with the default branch
/// (upstream's branch title and `merge_base_sha`), and returns that merge
/// base; git failing here only leaves them unknown.
async fn record_meta(
    db: &Db,
    git: &Git,
    repo: &ForgeRepo,
    branch: BranchId,
    head: &CommitId,
) -> Result<Option<CommitId>, SchedulerError> {
    let (base, at) = (repo.default_branch.clone(), head.clone());
    let (summary, merge_base) = git
        .call(move |g| {
            Ok((
                g.commit_summary(&at).ok(),
                g.merge_base(&base, &at).ok().flatten(),
            ))
        })
        .await?;
    let (title, author) = summary.map(|s| (s.subject, s.author)).unzip();
    let meta = BranchMeta {
        title,
        author,
        merge_base: merge_base.as_ref().map(|c| c.as_str().to_owned()),
    };
    db.set_branch_meta(branch, meta).await?;
    Ok(merge_base)
}

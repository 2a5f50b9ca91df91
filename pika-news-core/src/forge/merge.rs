//! A merge commit written in the bare repository without a worktree, and
//! refs moved only in transactions whose old values are checked.

use super::ForgeError;
use super::bare::{BareRepo, git_failed, valid_branch_name};
use super::commit::CommitId;

/// What to merge.
#[derive(Debug, Clone)]
pub struct MergeRequest<'a> {
    /// The branch, without `refs/heads/`.
    pub branch: &'a str,
    /// The head the caller decided to merge (its CI verdict is for this one).
    pub expected_head: &'a CommitId,
    /// The branch merged into.
    pub default_branch: &'a str,
    /// Who asked, for the merge commit's message.
    pub merged_by: &'a str,
}

/// A merge that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOutcome {
    /// The new merge commit, now the default branch's head.
    pub merge_commit: CommitId,
    /// The default branch's head before the merge (the commit's first parent).
    pub previous_default_head: CommitId,
}

fn check_name(name: &str) -> Result<(), ForgeError> {
    if valid_branch_name(name) {
        Ok(())
    } else {
        Err(ForgeError::InvalidName(name.chars().take(80).collect()))
    }
}

/// Merges `req.branch` (which must still be at `req.expected_head`) into the
/// default branch: a merge commit (first parent the default branch's head,
/// second the branch head), then, in one atomic ref transaction, the default
/// branch moved to it and the branch ref deleted, each only if still where
/// it was read. On any error nothing was changed but unreferenced objects.
pub fn merge_branch(repo: &BareRepo, req: &MergeRequest<'_>) -> Result<MergeOutcome, ForgeError> {
    merge_branch_observed(repo, req, || {})
}

/// [`merge_branch`], calling `before_publish` once the merge commit exists
/// and just before the ref transaction: the seam where a test pushes
/// concurrently.
pub fn merge_branch_observed(
    repo: &BareRepo,
    req: &MergeRequest<'_>,
    before_publish: impl FnOnce(),
) -> Result<MergeOutcome, ForgeError> {
    check_name(req.branch)?;
    check_name(req.default_branch)?;
    let found = repo.branch_head(req.branch)?;
    if found.as_ref() != Some(req.expected_head) {
        return Err(ForgeError::HeadMoved {
            branch: req.branch.to_owned(),
            expected: req.expected_head.clone(),
            found,
        });
    }
    let default_head = repo
        .branch_head(req.default_branch)?
        .ok_or_else(|| ForgeError::NoDefaultBranch(req.default_branch.to_owned()))?;
    let tree = merge_tree(repo, req, &default_head)?;
    let message = format!(
        "Merge branch '{}' into {}\n\nMerged by {} through pika-news.\n",
        req.branch, req.default_branch, req.merged_by
    );
    let out = repo
        .command()
        .env("GIT_AUTHOR_NAME", "pika-news")
        .env("GIT_AUTHOR_EMAIL", "pika-news@localhost")
        .env("GIT_COMMITTER_NAME", "pika-news")
        .env("GIT_COMMITTER_EMAIL", "pika-news@localhost")
        .args([
            "commit-tree",
            tree.as_str(),
            "-p",
            default_head.as_str(),
            "-p",
        ])
        .arg(req.expected_head.as_str())
        .args(["-m", &message])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(ForgeError::Spawn)?;
    if !out.status.success() {
        return Err(git_failed("commit-tree", &out));
    }
    let merge_commit =
        CommitId::parse(String::from_utf8_lossy(&out.stdout).trim()).ok_or(ForgeError::Git {
            command: "commit-tree",
            stderr: "it printed no commit id".into(),
        })?;
    before_publish();
    let script = format!(
        "start\nupdate refs/heads/{} {} {}\ndelete refs/heads/{} {}\nprepare\ncommit\n",
        req.default_branch, merge_commit, default_head, req.branch, req.expected_head
    );
    transaction(repo, &script, req.branch, req.default_branch)?;
    Ok(MergeOutcome {
        merge_commit,
        previous_default_head: default_head,
    })
}

/// Deletes `refs/heads/<branch>` if it still points at `expected_head`.
pub fn close_branch(
    repo: &BareRepo,
    branch: &str,
    expected_head: &CommitId,
) -> Result<(), ForgeError> {
    close_branch_observed(repo, branch, expected_head, || {})
}

/// [`close_branch`], calling `before_publish` just before the ref
/// transaction (the seam where a test pushes concurrently).
pub fn close_branch_observed(
    repo: &BareRepo,
    branch: &str,
    expected_head: &CommitId,
    before_publish: impl FnOnce(),
) -> Result<(), ForgeError> {
    check_name(branch)?;
    let found = repo.branch_head(branch)?;
    if found.as_ref() != Some(expected_head) {
        return Err(ForgeError::HeadMoved {
            branch: branch.to_owned(),
            expected: expected_head.clone(),
            found,
        });
    }
    before_publish();
    let script = format!("start\ndelete refs/heads/{branch} {expected_head}\nprepare\ncommit\n");
    match transaction(repo, &script, branch, branch) {
        // A push between the read above and the transaction: say where it is now.
        Err(ForgeError::Raced { .. }) => Err(ForgeError::HeadMoved {
            branch: branch.to_owned(),
            expected: expected_head.clone(),
            found: repo.branch_head(branch)?,
        }),
        other => other,
    }
}

/// The merged tree, or the conflicting paths.
fn merge_tree(
    repo: &BareRepo,
    req: &MergeRequest<'_>,
    default_head: &CommitId,
) -> Result<String, ForgeError> {
    let out = repo.output(
        &[
            "merge-tree",
            "--write-tree",
            "-z",
            "--name-only",
            "--no-messages",
            default_head.as_str(),
            req.expected_head.as_str(),
        ],
        None,
    )?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut fields = stdout.split('\0').filter(|f| !f.is_empty());
    match out.status.code() {
        Some(0) => fields
            .next()
            .map(|t| t.trim().to_owned())
            .ok_or(ForgeError::Git {
                command: "merge-tree",
                stderr: "it printed no tree id".into(),
            }),
        Some(1) => {
            let mut paths: Vec<String> = fields.skip(1).map(str::to_owned).collect();
            paths.dedup();
            Err(ForgeError::Conflict {
                branch: req.branch.to_owned(),
                into: req.default_branch.to_owned(),
                paths,
            })
        }
        _ => Err(git_failed("merge-tree", &out)),
    }
}

/// Runs one `git update-ref --stdin` transaction. A refusal because a ref
/// is not where the script expects it is [`ForgeError::Raced`]; git applies
/// all of the transaction or none of it.
fn transaction(repo: &BareRepo, script: &str, branch: &str, into: &str) -> Result<(), ForgeError> {
    let out = repo.output(&["update-ref", "--stdin"], Some(script.as_bytes()))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("but expected") || stderr.contains("cannot lock ref") {
        return Err(ForgeError::Raced {
            branch: branch.to_owned(),
            into: into.to_owned(),
        });
    }
    Err(git_failed("update-ref", &out))
}

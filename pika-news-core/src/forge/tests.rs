//! Merge, close and the hooks against real bare repositories and real
//! `git push`es over the file protocol.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;

/// A bare repository `canonical.git` with `master` (file `a` = "base") and a
/// clone `work` to push from.
struct Repos {
    _dir: tempfile::TempDir,
    bare: BareRepo,
    work: PathBuf,
}

fn git(cwd: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(cwd)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "-c",
            "init.defaultBranch=master",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Like [`git`], returning (success, stderr).
fn git_try(cwd: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("git")
        .current_dir(cwd)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Repos {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let bare = dir.path().join("canonical.git");
        git(
            dir.path(),
            &["init", "--bare", "-q", bare.to_str().unwrap()],
        );
        let work = dir.path().join("work");
        git(dir.path(), &["init", "-q", work.to_str().unwrap()]);
        git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
        let r = Self {
            _dir: dir,
            bare: BareRepo::new(bare),
            work,
        };
        r.commit("a", "base\n", "base");
        git(&r.work, &["push", "-q", "origin", "master"]);
        r
    }

    /// Commits `file` = `text` on the current branch of the clone.
    fn commit(&self, file: &str, text: &str, msg: &str) -> CommitId {
        std::fs::write(self.work.join(file), text).unwrap();
        git(&self.work, &["add", file]);
        git(&self.work, &["commit", "-q", "-m", msg]);
        CommitId::parse(&git(&self.work, &["rev-parse", "HEAD"])).unwrap()
    }

    /// A branch `name` from master with one commit changing `file`, pushed.
    fn branch(&self, name: &str, file: &str, text: &str) -> CommitId {
        git(&self.work, &["checkout", "-q", "-B", name, "origin/master"]);
        let head = self.commit(file, text, &format!("change {file}"));
        git(&self.work, &["push", "-q", "-f", "origin", name]);
        git(&self.work, &["fetch", "-q", "origin"]);
        head
    }

    fn head(&self, branch: &str) -> Option<CommitId> {
        self.bare.branch_head(branch).unwrap()
    }

    fn contains(&self, ancestor: &CommitId, of: &str) -> bool {
        git_try(
            self.bare.git_dir(),
            &[
                "merge-base",
                "--is-ancestor",
                ancestor.as_str(),
                &format!("refs/heads/{of}"),
            ],
        )
        .0
    }

    fn show(&self, rev: &str) -> String {
        git(
            self.bare.git_dir(),
            &["show", "-s", "--format=%P%n%an%n%B", rev],
        )
    }
}

fn request<'a>(branch: &'a str, head: &'a CommitId) -> MergeRequest<'a> {
    MergeRequest {
        branch,
        expected_head: head,
        default_branch: "master",
        merged_by: "npub1alice",
    }
}

#[test]
fn a_merge_makes_a_merge_commit_on_master_and_deletes_the_branch() {
    let r = Repos::new();
    let before = r.head("master").unwrap();
    let head = r.branch("feature/x", "b", "new\n");
    let done = merge_branch(&r.bare, &request("feature/x", &head)).unwrap();
    assert_eq!(r.head("master"), Some(done.merge_commit.clone()));
    assert_eq!(done.previous_default_head, before);
    assert!(r.contains(&head, "master"));
    assert_eq!(r.head("feature/x"), None);
    let shown = r.show("master");
    assert!(
        shown.starts_with(&format!("{before} {head}\npika-news\n")),
        "{shown}"
    );
    assert!(
        shown.contains("Merge branch 'feature/x' into master"),
        "{shown}"
    );
    assert!(shown.contains("Merged by npub1alice"), "{shown}");
    // Both sides' files are in the merged tree, and no worktree was made.
    let tree = git(r.bare.git_dir(), &["ls-tree", "--name-only", "master"]);
    assert_eq!(tree, "a\nb");
    assert_eq!(
        git(r.bare.git_dir(), &["worktree", "list"]).lines().count(),
        1
    );
}

#[test]
fn a_moved_head_changes_nothing() {
    let r = Repos::new();
    let seen = r.branch("feature/x", "b", "one\n");
    let newer = r.commit("b", "two\n", "newer");
    git(&r.work, &["push", "-q", "origin", "feature/x"]);
    let master = r.head("master");
    let err = merge_branch(&r.bare, &request("feature/x", &seen)).unwrap_err();
    assert!(
        matches!(err, ForgeError::HeadMoved { ref found, .. } if found.as_ref() == Some(&newer)),
        "{err}"
    );
    assert!(err.is_conflict());
    assert_eq!(r.head("master"), master);
    assert_eq!(r.head("feature/x"), Some(newer.clone()));
    let err = close_branch(&r.bare, "feature/x", &seen).unwrap_err();
    assert!(matches!(err, ForgeError::HeadMoved { .. }), "{err}");
    assert_eq!(r.head("feature/x"), Some(newer));
}

#[test]
fn a_conflict_names_its_paths_and_changes_nothing() {
    let r = Repos::new();
    let head = r.branch("feature/x", "a", "branch side\n");
    git(&r.work, &["checkout", "-q", "master"]);
    r.commit("a", "master side\n", "master moves on");
    git(&r.work, &["push", "-q", "origin", "master"]);
    let master = r.head("master");
    let err = merge_branch(&r.bare, &request("feature/x", &head)).unwrap_err();
    match &err {
        ForgeError::Conflict { paths, .. } => assert_eq!(paths, &["a".to_owned()]),
        other => panic!("{other}"),
    }
    assert_eq!(
        err.to_string(),
        "merging `feature/x` into `master` conflicts in: a"
    );
    assert_eq!(r.head("master"), master);
    assert_eq!(r.head("feature/x"), Some(head));
}

#[test]
fn a_push_during_the_merge_loses_nothing() {
    let r = Repos::new();
    let head = r.branch("feature/x", "b", "one\n");
    let master = r.head("master");
    // Between the merge commit and the ref transaction, the author pushes
    // another commit to the branch.
    let mut pushed = None;
    let err = merge_branch_observed(&r.bare, &request("feature/x", &head), || {
        pushed = Some(r.commit("b", "two\n", "pushed meanwhile"));
        git(&r.work, &["push", "-q", "origin", "feature/x"]);
    })
    .unwrap_err();
    assert!(matches!(err, ForgeError::Raced { .. }), "{err}");
    assert_eq!(r.head("master"), master, "master unchanged");
    assert_eq!(r.head("feature/x"), pushed, "the pushed commit is kept");

    // The same with master moving (a merge of another branch) meanwhile.
    let head = r.head("feature/x").unwrap();
    let other = r.branch("feature/y", "c", "y\n");
    let mut merged_other = None;
    let err = merge_branch_observed(&r.bare, &request("feature/x", &head), || {
        merged_other = Some(merge_branch(&r.bare, &request("feature/y", &other)).unwrap());
    })
    .unwrap_err();
    assert!(matches!(err, ForgeError::Raced { .. }), "{err}");
    assert_eq!(r.head("master"), merged_other.map(|m| m.merge_commit));
    assert_eq!(r.head("feature/x"), Some(head));
}

#[test]
fn close_deletes_the_ref_only_where_it_was() {
    let r = Repos::new();
    let head = r.branch("feature/x", "b", "one\n");
    close_branch(&r.bare, "feature/x", &head).unwrap();
    assert_eq!(r.head("feature/x"), None);
    let err = close_branch(&r.bare, "feature/x", &head).unwrap_err();
    assert!(
        matches!(err, ForgeError::HeadMoved { found: None, .. }),
        "{err}"
    );
}

#[test]
fn a_push_during_a_close_is_kept() {
    let r = Repos::new();
    let head = r.branch("feature/x", "b", "one\n");
    let mut pushed = None;
    let err = close_branch_observed(&r.bare, "feature/x", &head, || {
        pushed = Some(r.commit("b", "two\n", "pushed meanwhile"));
        git(&r.work, &["push", "-q", "origin", "feature/x"]);
    })
    .unwrap_err();
    assert!(
        matches!(&err, ForgeError::HeadMoved { found, .. } if *found == pushed),
        "{err}"
    );
    assert_eq!(r.head("feature/x"), pushed, "the pushed commit is kept");
}

#[test]
fn names_that_could_inject_ref_commands_are_refused() {
    let r = Repos::new();
    let head = r.head("master").unwrap();
    let err = merge_branch(&r.bare, &request("x\ndelete refs/heads/master", &head)).unwrap_err();
    assert!(matches!(err, ForgeError::InvalidName(_)), "{err}");
    assert_eq!(r.head("master"), Some(head));
}

#[tokio::test]
async fn hooks_refuse_pushes_to_master_and_wake_on_every_push() {
    let r = Repos::new();
    let mut watch = WakeWatch::new(r.bare.git_dir()).unwrap();
    let hooks = install_hooks(&r.bare, "master").unwrap();
    assert_eq!(hooks.update, r.bare.git_dir().join("hooks/update"));

    // A direct push to master is refused and says why.
    git(&r.work, &["checkout", "-q", "master"]);
    r.commit("a", "direct\n", "direct to master");
    let master = r.head("master");
    let (ok, stderr) = git_try(&r.work, &["push", "origin", "master"]);
    assert!(!ok);
    assert!(
        stderr.contains("pika-news: direct pushes to master are refused"),
        "{stderr}"
    );
    assert_eq!(r.head("master"), master);
    let (ok, _) = git_try(&r.work, &["push", "origin", ":master"]);
    assert!(!ok, "deleting master is refused too");

    // A branch push goes through and the server's watch hears of it.
    git(&r.work, &["reset", "-q", "--hard", "origin/master"]);
    let head = r.branch("feature/x", "b", "x\n");
    assert_eq!(r.head("feature/x"), Some(head));
    tokio::time::timeout(std::time::Duration::from_secs(30), watch.pushed())
        .await
        .expect("the post-receive hook wrote the wake file")
        .unwrap();
    assert!(r.bare.git_dir().join(WAKE_FILE).exists());

    // The server's own merge is not a push: no hook stops it.
    merge_branch(
        &r.bare,
        &request("feature/x", &r.head("feature/x").unwrap()),
    )
    .unwrap();
}

#[test]
fn hooks_follow_core_hooks_path_and_create_master_once() {
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("empty.git");
    git(
        dir.path(),
        &["init", "--bare", "-q", bare.to_str().unwrap()],
    );
    git(&bare, &["config", "core.hooksPath", "custom-hooks"]);
    let repo = BareRepo::new(&bare);
    let hooks = install_hooks(&repo, "master").unwrap();
    assert_eq!(hooks.post_receive, bare.join("custom-hooks/post-receive"));
    // An empty repository may get its default branch by a push.
    let work = dir.path().join("w");
    git(dir.path(), &["init", "-q", work.to_str().unwrap()]);
    std::fs::write(work.join("f"), "x").unwrap();
    git(&work, &["add", "f"]);
    git(&work, &["commit", "-q", "-m", "first"]);
    let (ok, stderr) = git_try(&work, &["push", bare.to_str().unwrap(), "master"]);
    assert!(ok, "{stderr}");
    assert!(install_hooks(&repo, "bad name").is_err());
}

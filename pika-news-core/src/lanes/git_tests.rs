use std::sync::Mutex;

pub(crate) use git_fixture::sh;

use super::*;

/// A bare repository and a clone that pushes to it.
pub(crate) fn repos() -> (tempfile::TempDir, Utf8PathBuf, Utf8PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();
    let bare = root.join("canon.git");
    let work = root.join("work");
    sh(
        &root,
        &format!("git init -q --bare {bare} && git init -q -b main {work}"),
    );
    (dir, bare, work)
}

/// A repository with `main` (one commit) and `feature/x` (one more), pushed.
fn pushed() -> (tempfile::TempDir, Git, Utf8PathBuf, CommitId, CommitId) {
    let (d, bare, work) = repos();
    sh(
        &work,
        &format!(
            "mkdir -p ci src docs && echo 'version = 1' > ci/forge-lanes.toml && echo a > src/a \
             && echo d > docs/old.md && git add . && git commit -qm one && git push -q {bare} main \
             && git checkout -q -b feature/x && echo b > src/b && git mv docs/old.md docs/new.md \
             && git add . && git commit -qm two && git push -q {bare} feature/x"
        ),
    );
    let main = CommitId::parse(&sh(&work, "git rev-parse main")).unwrap();
    let feature = CommitId::parse(&sh(&work, "git rev-parse feature/x")).unwrap();
    (d, Git::new(&bare), work, main, feature)
}

#[test]
fn lists_branch_heads_of_a_bare_repository() {
    let (_d, git, _work, main, feature) = pushed();
    let mut heads = git.list_branch_heads().unwrap();
    heads.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(
        heads,
        [
            BranchHead {
                name: "feature/x".into(),
                commit: feature
            },
            BranchHead {
                name: "main".into(),
                commit: main
            },
        ]
    );
}

#[test]
fn reads_a_file_at_a_commit_and_none_when_absent() {
    let (_d, git, work, main, feature) = pushed();
    assert_eq!(
        git.read_file_at(&feature, "ci/forge-lanes.toml")
            .unwrap()
            .as_deref(),
        Some("version = 1\n")
    );
    assert_eq!(git.read_file_at(&feature, "nope.toml").unwrap(), None);
    // A folder, a prefix of a file and a file as a folder are not files.
    assert_eq!(git.read_file_at(&feature, "ci").unwrap(), None);
    assert_eq!(git.read_file_at(&feature, "ci/forge").unwrap(), None);
    assert_eq!(git.read_file_at(&feature, "src/a/x").unwrap(), None);
    // At `main`, `src/b` does not exist yet.
    assert_eq!(git.read_file_at(&main, "src/b").unwrap(), None);
    assert_eq!(
        git.read_file_at(&feature, "src/b").unwrap().as_deref(),
        Some("b\n")
    );
    for bad in ["", "/etc/passwd", "../x", "ci/../x", "a//b", "ci/"] {
        assert!(
            matches!(
                git.read_file_at(&feature, bad),
                Err(GitError::Invalid { .. })
            ),
            "{bad:?}"
        );
    }
    drop(work);
}

#[test]
fn a_link_is_not_read_and_a_huge_file_is_refused() {
    let (_d, bare, work) = repos();
    sh(
        &work,
        &format!(
            "mkdir ci && ln -s /etc/passwd ci/forge-lanes.toml && head -c {} /dev/zero > big \
             && git add . && git commit -qm one && git push -q {bare} main",
            MAX_FILE_BYTES + 1
        ),
    );
    let head = CommitId::parse(&sh(&work, "git rev-parse HEAD")).unwrap();
    let git = Git::new(&bare);
    assert_eq!(
        git.read_file_at(&head, "ci/forge-lanes.toml").unwrap(),
        None
    );
    let e = git.read_file_at(&head, "big").unwrap_err();
    assert!(
        matches!(e, GitError::TooLarge { size, .. } if size == MAX_FILE_BYTES + 1),
        "{e}"
    );
}

#[test]
fn a_missing_commit_or_repository_is_an_error_not_an_absent_file() {
    let (d, git, _work, _main, _feature) = pushed();
    let unknown = CommitId::parse(&"1".repeat(40)).unwrap();
    let e = git
        .read_file_at(&unknown, "ci/forge-lanes.toml")
        .unwrap_err();
    assert!(matches!(e, GitError::Failed { .. }), "{e}");
    let gone = Git::new(Utf8PathBuf::try_from(d.path().join("no-such.git")).unwrap());
    let e = gone.list_branch_heads().unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, GitError::Failed { .. }), "{text}");
    assert!(
        !text.contains(d.path().to_str().unwrap()),
        "a server path leaked: {text}"
    );
}

#[test]
fn changed_files_against_the_default_branch_include_both_sides_of_a_rename() {
    let (_d, git, _work, main, feature) = pushed();
    let mut changed = git.changed_files("main", &feature).unwrap();
    changed.sort();
    assert_eq!(changed, ["docs/new.md", "docs/old.md", "src/b"]);
    let mut since = git.changed_files_since(Some(&main), &feature).unwrap();
    since.sort();
    assert_eq!(since, changed);
    assert!(git.changed_files("main", &main).unwrap().is_empty());
    let mut all = git.changed_files_since(None, &feature).unwrap();
    all.sort();
    assert_eq!(
        all,
        ["ci/forge-lanes.toml", "docs/new.md", "src/a", "src/b"]
    );
    for bad in ["--output=/tmp/x", "a..b", "-x", ""] {
        assert!(
            matches!(
                git.changed_files(bad, &feature),
                Err(GitError::Invalid { .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn changed_files_since_the_merge_base_ignore_the_base_moving_on() {
    let (_d, git, work, _main, feature) = pushed();
    let bare = git.git_dir().to_owned();
    sh(
        &work,
        &format!(
            "git checkout -q main && echo c > src/c && git add . && git commit -qm three \
             && git push -q {bare} main"
        ),
    );
    assert_eq!(git.changed_files("main", &feature).unwrap().len(), 3);
    assert!(
        !git.changed_files("main", &feature)
            .unwrap()
            .contains(&"src/c".to_owned())
    );
}

#[test]
fn subjects_and_merge_bases() {
    let (_d, git, work, main, feature) = pushed();
    assert_eq!(git.commit_subject(&feature).unwrap(), "two");
    assert_eq!(git.commit_subject(&main).unwrap(), "one");
    let author = sh(&work, "git log -1 --format=%an feature/x");
    let summary = git.commit_summary(&feature).unwrap();
    assert_eq!(summary.subject, "two");
    assert_eq!(summary.author, author);
    assert_eq!(
        git.merge_base("main", &feature).unwrap(),
        Some(main.clone())
    );
    assert_eq!(git.merge_base("main", &main).unwrap(), Some(main.clone()));
    assert_eq!(
        git.merge_base("master", &feature).unwrap(),
        None,
        "no such branch"
    );
    // A branch with no history in common with main.
    let bare = git.git_dir().to_owned();
    sh(
        &work,
        &format!(
            "git checkout -q --orphan lone && git rm -rqf . && echo l > l && git add l \
             && git commit -qm lone && git push -q {bare} lone"
        ),
    );
    let lone = CommitId::parse(&sh(&work, "git rev-parse lone")).unwrap();
    assert_eq!(git.merge_base("main", &lone).unwrap(), None);
    assert!(git.merge_base("../x", &lone).is_err());
}

#[test]
fn a_detached_worktree_is_made_and_removed_even_twice() {
    let (_d, git, work, _main, feature) = pushed();
    let wt = work.parent().unwrap().join("worktrees/wt");
    git.add_worktree(&feature, &wt).unwrap();
    assert_eq!(std::fs::read_to_string(wt.join("src/b")).unwrap(), "b\n");
    assert_eq!(sh(&wt, "git rev-parse HEAD"), feature.as_str());
    // Detached: no branch is checked out there.
    assert_eq!(sh(&wt, "git branch --show-current"), "");
    std::fs::write(wt.join("untracked"), "x").unwrap();
    git.remove_worktree(&wt).unwrap();
    assert!(!wt.exists());
    git.remove_worktree(&wt).unwrap();
    // The bookkeeping is gone too: the same place can be used again.
    git.add_worktree(&feature, &wt).unwrap();
    // A folder git no longer knows is still deleted.
    sh(git.git_dir(), "rm -rf worktrees");
    git.remove_worktree(&wt).unwrap();
    assert!(!wt.exists());
    assert!(matches!(
        git.add_worktree(&feature, Utf8Path::new("-x")),
        Err(GitError::Invalid { .. })
    ));
}

#[test]
fn names_and_commits_are_checked() {
    for bad in [
        "", "-x", "a..b", "a b", "a\nb", "a\u{7f}", "/a", "a/", "a~1", "a:b", "a//b", "a.lock",
        ".hidden", "a/.b", "a@{1}", "a.",
    ] {
        assert!(!valid_branch_name(bad), "{bad:?}");
    }
    assert!(valid_branch_name("feature/x-1.2_y"));
    assert!(CommitId::parse(&"a".repeat(40)).is_ok());
    assert!(CommitId::parse(&"0".repeat(64)).is_ok());
    for bad in ["HEAD", "", "-a"] {
        assert!(CommitId::parse(bad).is_err());
    }
    assert!(CommitId::parse(&"A".repeat(40)).is_err());
    assert!(CommitId::parse(&"a".repeat(41)).is_err());
    assert!(CommitId::parse(&"g".repeat(40)).is_err());
}

/// Answers each call with the next scripted output and records the arguments.
#[derive(Debug, Default)]
struct FakeGit {
    replies: Mutex<Vec<GitOutput>>,
    calls: Mutex<Vec<Vec<String>>>,
}

impl FakeGit {
    fn new(replies: Vec<GitOutput>) -> Arc<Self> {
        Arc::new(Self {
            replies: Mutex::new(replies.into_iter().rev().collect()),
            calls: Mutex::default(),
        })
    }
}

impl GitExec for FakeGit {
    fn run(&self, _git_dir: &Utf8Path, args: &[&str]) -> std::io::Result<GitOutput> {
        self.calls
            .lock()
            .unwrap()
            .push(args.iter().map(|a| (*a).to_owned()).collect());
        self.replies
            .lock()
            .unwrap()
            .pop()
            .ok_or_else(|| std::io::Error::other("no reply scripted"))
    }
}

fn ok(stdout: &[u8]) -> GitOutput {
    GitOutput {
        code: Some(0),
        stdout: stdout.to_vec(),
        stderr: Vec::new(),
    }
}

#[test]
fn refs_with_unsafe_names_or_odd_objects_are_skipped() {
    let a = "a".repeat(40);
    let out = format!(
        "{a} refs/heads/main\n{a} refs/heads/-rf\n{a} refs/heads/x..y\nHEAD refs/heads/bad\n\
         {a} refs/tags/v1\ngarbage\n{a} refs/heads/ok/1\n"
    );
    let fake = FakeGit::new(vec![ok(out.as_bytes())]);
    let git = Git::with_exec("/srv/git/canon.git", fake.clone());
    let names: Vec<_> = git
        .list_branch_heads()
        .unwrap()
        .into_iter()
        .map(|h| h.name)
        .collect();
    assert_eq!(names, ["main", "ok/1"]);
    assert_eq!(fake.calls.lock().unwrap()[0][0], "for-each-ref");
}

#[test]
fn a_file_is_read_by_the_object_ls_tree_names() {
    let commit = CommitId::parse(&"c".repeat(40)).unwrap();
    let blob = "b".repeat(40);
    let listing = format!(
        "100644 blob {blob}     12\tci/forge-lanes.toml-other\0100644 blob {blob}     12\tci/forge-lanes.toml\0"
    );
    let fake = FakeGit::new(vec![ok(listing.as_bytes()), ok(b"version = 1\n")]);
    let git = Git::with_exec("/srv/git/canon.git", fake.clone());
    assert_eq!(
        git.read_file_at(&commit, "ci/forge-lanes.toml")
            .unwrap()
            .as_deref(),
        Some("version = 1\n")
    );
    let calls = fake.calls.lock().unwrap();
    assert_eq!(calls[1], ["cat-file", "blob", blob.as_str()]);
    assert_eq!(calls[0].last().unwrap(), "ci/forge-lanes.toml");
}

#[test]
fn submodules_and_executables_are_told_apart() {
    let commit = CommitId::parse(&"c".repeat(40)).unwrap();
    let obj = "d".repeat(40);
    let submodule = format!("160000 commit {obj}       -\tci/forge-lanes.toml\0");
    let fake = FakeGit::new(vec![ok(submodule.as_bytes())]);
    let git = Git::with_exec("/srv/git/canon.git", fake);
    assert_eq!(
        git.read_file_at(&commit, "ci/forge-lanes.toml").unwrap(),
        None
    );
    let exe = format!("100755 blob {obj}       3\tci/forge-lanes.toml\0");
    let fake = FakeGit::new(vec![ok(exe.as_bytes()), ok(b"hi\n")]);
    let git = Git::with_exec("/srv/git/canon.git", fake);
    assert_eq!(
        git.read_file_at(&commit, "ci/forge-lanes.toml")
            .unwrap()
            .as_deref(),
        Some("hi\n")
    );
}

#[test]
fn failures_keep_gits_words_without_server_paths() {
    let fake = FakeGit::new(vec![GitOutput {
        code: Some(128),
        stdout: Vec::new(),
        stderr: b"fatal: '/srv/git/wt/lane-1' already exists in /srv/git/canon.git\n".to_vec(),
    }]);
    let git = Git::with_exec("/srv/git/canon.git", fake);
    let commit = CommitId::parse(&"c".repeat(40)).unwrap();
    let e = git
        .add_worktree(&commit, Utf8Path::new("/srv/git/wt/lane-1"))
        .unwrap_err()
        .to_string();
    assert!(!e.contains("/srv"), "{e}");
    assert!(
        e.contains("already exists") && e.contains("exit 128"),
        "{e}"
    );
    assert!(e.contains("git worktree add"), "{e}");
    let fake = FakeGit::new(vec![]);
    let git = Git::with_exec("/srv/git/canon.git", fake);
    assert!(matches!(git.list_branch_heads(), Err(GitError::Spawn(_))));
}

#[test]
fn ls_tree_parsing_skips_malformed_records() {
    let obj = "e".repeat(40);
    let out = format!("100644 blob {obj} 7\tp\0junk\0100644 blob short 7\tq\0\0");
    let entries = parse_ls_tree_long(out.as_bytes());
    assert_eq!(
        entries,
        [TreeEntry {
            mode: "100644",
            object: &obj,
            size: 7,
            path: b"p"
        }]
    );
}

#[test]
fn lanes_adding_and_removing_worktrees_at_once_never_break_each_other() {
    // Two lanes of one repository: one's `worktree prune` (at its end) used
    // to delete the bookkeeping of the other's half-made `worktree add`.
    let (_d, git, work, _main, feature) = pushed();
    let root = work.parent().unwrap().join("worktrees");
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let (git, feature, root) = (git.clone(), feature.clone(), root.clone());
            std::thread::spawn(move || {
                for i in 0..15 {
                    let wt = root.join(format!("lane-{t}-{i}"));
                    git.add_worktree(&feature, &wt)
                        .unwrap_or_else(|e| panic!("add {wt}: {e}"));
                    assert!(wt.join("src/b").is_file(), "{wt}");
                    git.remove_worktree(&wt)
                        .unwrap_or_else(|e| panic!("remove {wt}: {e}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

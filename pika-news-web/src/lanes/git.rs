//! The git operations pika-news needs, on the canonical bare repository.

use std::process::Command;

use camino::{Utf8Path, Utf8PathBuf};

/// A git failure, with the command and what git said.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// git could not be started.
    #[error("could not run git: {0}")]
    Spawn(#[source] std::io::Error),
    /// git exited with an error.
    #[error("git {args} failed: {stderr}")]
    Failed {
        /// The arguments.
        args: String,
        /// What git printed.
        stderr: String,
    },
    /// A name or commit that is not acceptable.
    #[error("invalid {what} {value:?}")]
    Invalid {
        /// What it is.
        what: &'static str,
        /// The value.
        value: String,
    },
}

/// A full commit id (40 or 64 lowercase hex digits).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommitId(String);

impl CommitId {
    /// Validates a commit id.
    pub fn parse(s: &str) -> Result<Self, GitError> {
        let ok = (s.len() == 40 || s.len() == 64)
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(GitError::Invalid {
                what: "commit",
                value: s.chars().take(80).collect(),
            })
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A branch and its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchHead {
    /// The branch name (without `refs/heads/`).
    pub name: String,
    /// Its head commit.
    pub commit: CommitId,
}

/// Whether a branch name is safe to use (no `..`, no control characters, no
/// leading `-`, nothing git would refuse).
pub fn valid_branch_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('-')
        && !name.starts_with('/')
        && !name.ends_with('/')
        && !name.contains("..")
        && !name.contains("//")
        && !name
            .chars()
            .any(|c| c.is_control() || " ~^:?*[\\".contains(c))
}

/// The git CLI on one repository.
#[derive(Debug, Clone)]
pub struct Git {
    git_dir: Utf8PathBuf,
}

impl Git {
    /// Git on the repository at `git_dir` (bare or not).
    pub fn new(git_dir: impl Into<Utf8PathBuf>) -> Self {
        Self {
            git_dir: git_dir.into(),
        }
    }

    fn run(&self, args: &[&str]) -> Result<Vec<u8>, GitError> {
        let out = Command::new("git")
            .arg("--git-dir")
            .arg(&self.git_dir)
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(GitError::Spawn)?;
        if !out.status.success() {
            return Err(GitError::Failed {
                args: args.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        Ok(out.stdout)
    }

    /// Every `refs/heads/*` with its commit; names git or we would refuse are skipped.
    pub fn list_branch_heads(&self) -> Result<Vec<BranchHead>, GitError> {
        let out = self.run(&[
            "for-each-ref",
            "--format=%(objectname) %(refname)",
            "refs/heads/",
        ])?;
        Ok(String::from_utf8_lossy(&out)
            .lines()
            .filter_map(|l| {
                let (commit, refname) = l.split_once(' ')?;
                let name = refname.strip_prefix("refs/heads/")?;
                (valid_branch_name(name)).then_some(())?;
                Some(BranchHead {
                    name: name.to_owned(),
                    commit: CommitId::parse(commit).ok()?,
                })
            })
            .collect())
    }

    /// A file's text at a commit; `None` when it does not exist there.
    pub fn read_file_at(&self, commit: &CommitId, path: &str) -> Result<Option<String>, GitError> {
        let spec = format!("{}:{path}", commit.as_str());
        if self.run(&["cat-file", "-e", &spec]).is_err() {
            return Ok(None);
        }
        let out = self.run(&["cat-file", "blob", &spec])?;
        Ok(Some(String::from_utf8_lossy(&out).into_owned()))
    }

    /// Files changed on `head` since its merge base with `base`.
    pub fn changed_files(&self, base: &str, head: &CommitId) -> Result<Vec<String>, GitError> {
        let range = format!("{base}...{}", head.as_str());
        let out = self.run(&["diff", "--name-only", "-z", &range])?;
        Ok(out
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect())
    }

    /// A detached worktree of `commit` at `dest`.
    pub fn add_worktree(&self, commit: &CommitId, dest: &Utf8Path) -> Result<(), GitError> {
        self.run(&[
            "worktree",
            "add",
            "--detach",
            "--force",
            dest.as_str(),
            commit.as_str(),
        ])?;
        Ok(())
    }

    /// Removes a worktree (and its bookkeeping); fine if it is already gone.
    pub fn remove_worktree(&self, dest: &Utf8Path) -> Result<(), GitError> {
        let _ = self.run(&["worktree", "remove", "--force", "--force", dest.as_str()]);
        if dest.exists() {
            std::fs::remove_dir_all(dest).map_err(GitError::Spawn)?;
        }
        self.run(&["worktree", "prune"])?;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
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

    pub(crate) fn sh(dir: &Utf8Path, script: &str) {
        let ok = Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .status()
            .unwrap()
            .success();
        assert!(ok, "{script}");
    }

    #[test]
    fn heads_files_changes_and_worktrees() {
        let (_d, bare, work) = repos();
        sh(
            &work,
            &format!(
                "mkdir -p ci src && echo 'version = 1' > ci/forge-lanes.toml && echo a > src/a && git add . && git commit -qm one \
                 && git push -q {bare} main && git checkout -q -b feature/x && echo b > src/b && git add . && git commit -qm two \
                 && git push -q {bare} feature/x"
            ),
        );
        let git = Git::new(&bare);
        let mut heads = git.list_branch_heads().unwrap();
        heads.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(
            heads.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(),
            ["feature/x", "main"]
        );
        let feature = &heads[0].commit;
        assert_eq!(
            git.read_file_at(feature, "ci/forge-lanes.toml")
                .unwrap()
                .as_deref(),
            Some("version = 1\n")
        );
        assert_eq!(git.read_file_at(feature, "nope.toml").unwrap(), None);
        assert_eq!(git.changed_files("main", feature).unwrap(), ["src/b"]);
        let wt = work.parent().unwrap().join("wt");
        git.add_worktree(feature, &wt).unwrap();
        assert!(wt.join("src/b").exists());
        git.remove_worktree(&wt).unwrap();
        assert!(!wt.exists());
        git.remove_worktree(&wt).unwrap();
    }

    #[test]
    fn names_and_commits_are_checked() {
        for bad in ["", "-x", "a..b", "a b", "a\nb", "/a", "a/", "a~1", "a:b"] {
            assert!(!valid_branch_name(bad), "{bad:?}");
        }
        assert!(valid_branch_name("feature/x-1.2_y"));
        assert!(CommitId::parse(&"a".repeat(40)).is_ok());
        assert!(CommitId::parse("HEAD").is_err());
        assert!(CommitId::parse(&"A".repeat(40)).is_err());
    }
}

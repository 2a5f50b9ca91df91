//! The git operations pika-news needs, on the canonical bare repository.
//!
//! Every call goes through the [`GitExec`] seam ([`SystemGit`] runs the `git`
//! CLI), so the parsing and error handling here are tested with a fake, and
//! the real CLI with temporary repositories.

use std::fmt;
use std::process::Stdio;
use std::sync::Arc;

use camino::{Utf8Path, Utf8PathBuf};

/// The largest file [`Git::read_file_at`] reads (a manifest is a few lines).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// How much of git's stderr an error keeps.
const MAX_STDERR: usize = 2000;

/// Variables that would point git somewhere else than the repository it is given.
const GIT_ENV_OVERRIDES: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_EXTERNAL_DIFF",
];

/// A git failure. Messages never contain the repository's or a worktree's
/// absolute path, so they can be shown to clients.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// git could not be started.
    #[error("could not run git")]
    Spawn(#[source] std::io::Error),
    /// git exited with an error.
    #[error("`git {command}` failed with {status}: {stderr}")]
    Failed {
        /// The arguments, absolute paths replaced by `<path>`.
        command: String,
        /// The exit status (`signal` when killed).
        status: String,
        /// What git printed, trimmed, paths replaced.
        stderr: String,
    },
    /// A name, path or commit that is not acceptable.
    #[error("invalid {what} {value:?}")]
    Invalid {
        /// What it is.
        what: &'static str,
        /// The value (at most 80 characters of it).
        value: String,
    },
    /// A file too large to read into memory.
    #[error("{path} at {commit} is {size} bytes, more than the {MAX_FILE_BYTES} allowed")]
    TooLarge {
        /// The commit.
        commit: CommitId,
        /// The path in the commit.
        path: String,
        /// Its size.
        size: u64,
    },
    /// A leftover worktree folder could not be deleted.
    #[error("could not delete a worktree folder")]
    RemoveWorktree(#[source] std::io::Error),
    /// A new worktree could not be handed to the lane user.
    #[error("could not hand the worktree to the lane user")]
    HandOver(#[source] std::io::Error),
    /// The lane's fresh `HOME` could not be made.
    #[error("could not make the lane's home folder")]
    LaneHome(#[source] std::io::Error),
    /// The folder worktrees are made in could not be created.
    #[error("could not create the worktrees folder")]
    WorktreesFolder(#[source] std::io::Error),
    /// The blocking task running git failed (it panicked or was cancelled).
    #[error("a git task failed: {0}")]
    Task(String),
}

fn invalid(what: &'static str, value: &str) -> GitError {
    GitError::Invalid {
        what,
        value: value.chars().take(80).collect(),
    }
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
            Err(invalid("commit", s))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// A branch and its head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchHead {
    /// The branch name (without `refs/heads/`), checked by [`valid_branch_name`].
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
        && !name.ends_with('.')
        && !name.ends_with(".lock")
        && !name.contains("..")
        && !name.contains("//")
        && !name.contains("@{")
        && !name.split('/').any(|c| c.starts_with('.'))
        && !name
            .chars()
            .any(|c| c.is_control() || " ~^:?*[\\".contains(c))
}

/// Whether `path` is a plain relative path inside a tree.
fn valid_tree_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.ends_with('/')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// What one git command did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitOutput {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Its stdout.
    pub stdout: Vec<u8>,
    /// Its stderr.
    pub stderr: Vec<u8>,
}

/// The seam through which [`Git`] runs git.
pub trait GitExec: Send + Sync + fmt::Debug {
    /// Runs `git --git-dir <git_dir> <args>` to its end.
    fn run(&self, git_dir: &Utf8Path, args: &[&str]) -> std::io::Result<GitOutput>;
}

/// The `git` CLI from `PATH`, with variables that could redirect it removed
/// and no terminal prompts.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemGit;

impl GitExec for SystemGit {
    fn run(&self, git_dir: &Utf8Path, args: &[&str]) -> std::io::Result<GitOutput> {
        let mut cmd = std::process::Command::new("git");
        cmd.arg("--git-dir").arg(git_dir).args(args);
        for var in GIT_ENV_OVERRIDES {
            cmd.env_remove(var);
        }
        let out = cmd
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()?;
        Ok(GitOutput {
            code: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}

/// Git on one repository.
#[derive(Debug, Clone)]
pub struct Git {
    git_dir: Utf8PathBuf,
    exec: Arc<dyn GitExec>,
    /// Held while worktrees are added, removed or pruned: a `prune` that
    /// runs while another lane's `worktree add` is half done deletes that
    /// worktree's bookkeeping, and the add fails.
    worktrees: Arc<std::sync::Mutex<()>>,
}

impl Git {
    /// The `git` CLI on the repository at `git_dir` (bare or not).
    pub fn new(git_dir: impl Into<Utf8PathBuf>) -> Self {
        Self::with_exec(git_dir, Arc::new(SystemGit))
    }

    /// Git on `git_dir` through another [`GitExec`] (tests).
    pub fn with_exec(git_dir: impl Into<Utf8PathBuf>, exec: Arc<dyn GitExec>) -> Self {
        Self {
            git_dir: git_dir.into(),
            exec,
            worktrees: Arc::default(),
        }
    }

    /// The repository.
    pub fn git_dir(&self) -> &Utf8Path {
        &self.git_dir
    }

    /// Runs `f` on tokio's blocking pool: git commands wait for a process and
    /// must not hold a runtime worker meanwhile. Async code calls git only
    /// through this.
    pub async fn call<T, F>(&self, f: F) -> Result<T, GitError>
    where
        T: Send + 'static,
        F: FnOnce(&Git) -> Result<T, GitError> + Send + 'static,
    {
        let git = self.clone();
        tokio::task::spawn_blocking(move || f(&git))
            .await
            .map_err(|e| GitError::Task(e.to_string()))?
    }

    /// Replaces the repository's path and every absolute path argument.
    fn redact(&self, text: &str, args: &[&str]) -> String {
        let mut text = text.replace(self.git_dir.as_str(), "<repository>");
        for a in args.iter().filter(|a| a.starts_with('/') && a.len() > 1) {
            text = text.replace(a, "<path>");
        }
        text
    }

    fn run(&self, args: &[&str]) -> Result<Vec<u8>, GitError> {
        let out = self
            .exec
            .run(&self.git_dir, args)
            .map_err(GitError::Spawn)?;
        if out.code == Some(0) {
            return Ok(out.stdout);
        }
        let command = args
            .iter()
            .map(|a| if a.starts_with('/') { "<path>" } else { a })
            .collect::<Vec<_>>()
            .join(" ");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stderr: String = self
            .redact(stderr.trim(), args)
            .chars()
            .take(MAX_STDERR)
            .collect();
        Err(GitError::Failed {
            command,
            status: out.code.map_or("a signal".into(), |c| format!("exit {c}")),
            stderr,
        })
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
                valid_branch_name(name).then_some(())?;
                Some(BranchHead {
                    name: name.to_owned(),
                    commit: CommitId::parse(commit).ok()?,
                })
            })
            .collect())
    }

    /// A regular file's text at a commit (lossy UTF-8); `None` when there is
    /// no regular file at `path` there (missing, a folder, a link or a
    /// submodule). A missing commit or repository is an error.
    pub fn read_file_at(&self, commit: &CommitId, path: &str) -> Result<Option<String>, GitError> {
        if !valid_tree_path(path) {
            return Err(invalid("path", path));
        }
        let listing = self.run(&[
            "ls-tree",
            "-l",
            "-z",
            "--full-tree",
            commit.as_str(),
            "--",
            path,
        ])?;
        let Some(entry) = parse_ls_tree_long(&listing)
            .into_iter()
            .find(|e| e.path == path.as_bytes())
        else {
            return Ok(None);
        };
        if !matches!(entry.mode, "100644" | "100755") {
            return Ok(None);
        }
        if entry.size > MAX_FILE_BYTES {
            return Err(GitError::TooLarge {
                commit: commit.clone(),
                path: path.to_owned(),
                size: entry.size,
            });
        }
        let blob = self.run(&["cat-file", "blob", entry.object])?;
        Ok(Some(String::from_utf8_lossy(&blob).into_owned()))
    }

    /// Files changed on `head` since its merge base with the branch `base`
    /// (deleted and renamed-away paths included, so a lane watching the old
    /// place still runs).
    pub fn changed_files(&self, base: &str, head: &CommitId) -> Result<Vec<String>, GitError> {
        if !valid_branch_name(base) {
            return Err(invalid("branch", base));
        }
        self.diff_names(&format!("refs/heads/{base}...{}", head.as_str()))
    }

    /// Files changed on `head` since its merge base with the commit `base`;
    /// with no base (a new branch, nothing to compare with), every file of `head`.
    pub fn changed_files_since(
        &self,
        base: Option<&CommitId>,
        head: &CommitId,
    ) -> Result<Vec<String>, GitError> {
        match base {
            Some(base) => self.diff_names(&format!("{}...{}", base.as_str(), head.as_str())),
            None => Ok(split_z(&self.run(&[
                "ls-tree",
                "-r",
                "-z",
                "--name-only",
                "--full-tree",
                head.as_str(),
            ])?)),
        }
    }

    /// The commit a revision names (a branch, a tag, an id, `HEAD~2`).
    pub fn resolve_commit(&self, rev: &str) -> Result<CommitId, GitError> {
        if rev.is_empty() || rev.starts_with('-') || rev.chars().any(char::is_control) {
            return Err(invalid("revision", rev));
        }
        let out = self.run(&[
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            &format!("{rev}^{{commit}}"),
        ])?;
        CommitId::parse(String::from_utf8_lossy(&out).trim())
    }

    /// The subject (first line of the message) of a commit.
    pub fn commit_subject(&self, commit: &CommitId) -> Result<String, GitError> {
        let out = self.run(&["log", "-1", "--format=%s", commit.as_str(), "--"])?;
        Ok(String::from_utf8_lossy(&out).trim_end().to_owned())
    }

    /// The subject and the author's name of a commit, in one call.
    pub fn commit_summary(&self, commit: &CommitId) -> Result<CommitSummary, GitError> {
        let out = self.run(&["log", "-1", "--format=%an%x00%s", commit.as_str(), "--"])?;
        let text = String::from_utf8_lossy(&out);
        let (author, subject) = text.trim_end().split_once('\0').unwrap_or(("", &text));
        Ok(CommitSummary {
            subject: subject.trim_end().to_owned(),
            author: author.to_owned(),
        })
    }

    /// The merge base of `head` and the branch `base`; `None` when they
    /// share no history (or `base` does not exist).
    pub fn merge_base(&self, base: &str, head: &CommitId) -> Result<Option<CommitId>, GitError> {
        if !valid_branch_name(base) {
            return Err(invalid("branch", base));
        }
        match self.run(&["merge-base", &format!("refs/heads/{base}"), head.as_str()]) {
            Ok(out) => Ok(CommitId::parse(String::from_utf8_lossy(&out).trim()).ok()),
            // 1: no common ancestor; 128: no such branch.
            Err(GitError::Failed { status, .. }) if status == "exit 1" || status == "exit 128" => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn diff_names(&self, range: &str) -> Result<Vec<String>, GitError> {
        Ok(split_z(&self.run(&[
            "diff",
            "--name-only",
            "--no-renames",
            "-z",
            range,
            "--",
        ])?))
    }

    /// A detached worktree of `commit` at `dest`.
    pub fn add_worktree(&self, commit: &CommitId, dest: &Utf8Path) -> Result<(), GitError> {
        if dest.as_str().starts_with('-') {
            return Err(invalid("worktree path", dest.as_str()));
        }
        let _one_at_a_time = self.worktrees.lock().unwrap_or_else(|e| e.into_inner());
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

    /// Removes a worktree and its bookkeeping; fine if it is already gone.
    pub fn remove_worktree(&self, dest: &Utf8Path) -> Result<(), GitError> {
        // git may refuse (a locked or half-made worktree): the folder is
        // deleted by hand below and `prune` drops the bookkeeping.
        let _one_at_a_time = self.worktrees.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self.run(&["worktree", "remove", "--force", "--force", dest.as_str()]);
        if std::fs::symlink_metadata(dest).is_ok() {
            std::fs::remove_dir_all(dest).map_err(GitError::RemoveWorktree)?;
        }
        self.run(&["worktree", "prune"])?;
        Ok(())
    }
}

/// One entry of `git ls-tree -l -z`.
#[derive(Debug, PartialEq, Eq)]
struct TreeEntry<'a> {
    mode: &'a str,
    object: &'a str,
    size: u64,
    path: &'a [u8],
}

/// Parses `<mode> SP <type> SP <object> SP+ <size> TAB <path> NUL` entries;
/// malformed ones are skipped, a size of `-` (not a blob) reads as 0.
fn parse_ls_tree_long(out: &[u8]) -> Vec<TreeEntry<'_>> {
    out.split(|b| *b == 0)
        .filter_map(|rec| {
            let tab = rec.iter().position(|b| *b == b'\t')?;
            let (meta, path) = (std::str::from_utf8(&rec[..tab]).ok()?, &rec[tab + 1..]);
            let mut fields = meta.split_ascii_whitespace();
            let (mode, _kind, object, size) = (
                fields.next()?,
                fields.next()?,
                fields.next()?,
                fields.next()?,
            );
            CommitId::parse(object).ok()?;
            Some(TreeEntry {
                mode,
                object,
                size: size.parse().unwrap_or(0),
                path,
            })
        })
        .collect()
}

fn split_z(out: &[u8]) -> Vec<String> {
    out.split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

/// One commit's files, read through [`Git`]: what
/// [`lanes_of_head`](super::lane_source::lanes_of_head) reads a head with.
pub struct HeadAt<'a> {
    /// The repository.
    pub git: &'a Git,
    /// The commit.
    pub commit: &'a CommitId,
}

impl super::lane_source::HeadFiles for HeadAt<'_> {
    type Error = GitError;
    fn read(&self, path: &str) -> Result<Option<String>, GitError> {
        self.git.read_file_at(self.commit, path)
    }
}

/// What the pages say about a commit: its subject and who wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitSummary {
    /// The first line of its message.
    pub subject: String,
    /// Its author's name.
    pub author: String,
}

#[cfg(test)]
#[path = "git_tests.rs"]
pub(crate) mod tests;

//! `git` on the canonical bare repository, and the names it is given.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::ForgeError;
use super::commit::CommitId;

/// How much of git's stderr an error keeps.
const MAX_STDERR: usize = 2000;

/// Variables that would point git at another repository, index or object
/// store than the one it is given.
const GIT_ENV_OVERRIDES: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
    "GIT_QUARANTINE_PATH",
];

/// Whether `name` is a branch name safe to put in a ref and in a line of
/// `git update-ref --stdin` (no whitespace or control characters, no `..`,
/// nothing git's ref rules refuse).
pub fn valid_branch_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name.starts_with(['-', '/', '.'])
        && !name.ends_with(['/', '.'])
        && !name.ends_with(".lock")
        && !name.contains("..")
        && !name.contains("//")
        && !name.contains("@{")
        && !name.contains("/.")
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "~^:?*[\\".contains(c))
}

/// The canonical bare repository. Every call runs `git --git-dir <dir>` with
/// the variables that could redirect it removed.
#[derive(Debug, Clone)]
pub struct BareRepo {
    git_dir: PathBuf,
}

impl BareRepo {
    /// The repository at `git_dir`.
    pub fn new(git_dir: impl Into<PathBuf>) -> Self {
        Self {
            git_dir: git_dir.into(),
        }
    }

    /// Its git folder.
    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// A `git` command on this repository.
    pub(super) fn command(&self) -> Command {
        let mut cmd = Command::new("git");
        for var in GIT_ENV_OVERRIDES {
            cmd.env_remove(var);
        }
        cmd.arg("--git-dir").arg(&self.git_dir);
        cmd
    }

    /// Runs git with `args` (and `stdin` fed to it); the output whatever the
    /// exit status.
    pub(super) fn output(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<Output, ForgeError> {
        let mut cmd = self.command();
        cmd.args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(ForgeError::Spawn)?;
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // git reads all of it before acting; a failed write shows up as
            // its exit status.
            let _ = pipe.write_all(bytes);
        }
        child.wait_with_output().map_err(ForgeError::Spawn)
    }

    /// Where `refs/heads/<branch>` points, `None` when there is no such ref.
    pub fn branch_head(&self, branch: &str) -> Result<Option<CommitId>, ForgeError> {
        if !valid_branch_name(branch) {
            return Err(ForgeError::InvalidName(branch.chars().take(80).collect()));
        }
        let full = format!("refs/heads/{branch}");
        let out = self.output(
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{full}^{{commit}}"),
            ],
            None,
        )?;
        match out.status.code() {
            Some(0) => Ok(CommitId::parse(String::from_utf8_lossy(&out.stdout).trim())),
            Some(1) => Ok(None),
            _ => Err(git_failed("rev-parse", &out)),
        }
    }
}

/// [`ForgeError::Git`] from a failed run.
pub(super) fn git_failed(command: &'static str, out: &Output) -> ForgeError {
    let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if stderr.len() > MAX_STDERR {
        let mut end = MAX_STDERR;
        while !stderr.is_char_boundary(end) {
            end -= 1;
        }
        stderr.truncate(end);
    }
    if stderr.is_empty() {
        stderr = format!("exit status {}", out.status);
    }
    ForgeError::Git { command, stderr }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_that_could_break_a_ref_line_are_refused() {
        for ok in ["feature/x", "main", "a.b-c_d", "x/y/z"] {
            assert!(valid_branch_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-x",
            "a b",
            "a\nupdate refs/heads/master 0 0",
            "a..b",
            "a/",
            "a.lock",
            "a//b",
            "a@{1}",
            "a~1",
            "a^",
            "a:b",
            "/a",
            ".a",
            "a/.b",
            "a\tb",
        ] {
            assert!(!valid_branch_name(bad), "{bad:?}");
        }
    }
}

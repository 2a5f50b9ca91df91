//! [`sh`]: the one way tests and benches run the shell scripts that make
//! their git repositories.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! git_fixture::sh(dir.path(), "git init -q . && git commit -q --allow-empty -m one");
//! assert_eq!(git_fixture::sh(dir.path(), "git log --format=%an"), "t");
//! # Ok::<(), std::io::Error>(())
//! ```

use std::path::Path;
use std::process::Command;

/// Variables that point git somewhere else (set inside a git hook, for
/// example): a script must work on the repository in its own folder.
const GIT_LOCATION_VARS: &[&str] = &[
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

/// Runs `script` with bash in `dir`, committing as `t <t@t>` and with no
/// outer git location variables, and returns its stdout, trimmed. Panics,
/// naming the script and quoting its stderr, when it fails: a fixture that
/// could not be made is the test's failure.
pub fn sh(dir: impl AsRef<Path>, script: &str) -> String {
    let mut cmd = Command::new("bash");
    for var in GIT_LOCATION_VARS {
        cmd.env_remove(var);
    }
    let out = cmd
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    #[should_panic(expected = "exit 3: oops")]
    fn a_failing_script_fails_naming_itself_and_its_stderr() {
        super::sh(".", "echo oops >&2; exit 3");
    }
}

//! `pika-news hooks install`: the canonical repository's `update` and
//! `post-receive` hooks.
//!
//! - `update` refuses a push that moves or deletes the default branch: it
//!   changes only by a merge through the server (whose `git update-ref` runs
//!   no hook). Creating it, in a repository that has none yet, is allowed.
//! - `post-receive` writes [`WAKE_FILE`] in the git folder; the server
//!   watches that folder ([`super::WakeWatch`]) and looks at the new heads at
//!   once instead of at its next poll. No token, no network: anyone who may
//!   push may already write in that folder.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use super::bare::{BareRepo, valid_branch_name};
use super::{ForgeError, WAKE_FILE};

/// Where the hooks were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledHooks {
    /// The `update` hook.
    pub update: PathBuf,
    /// The `post-receive` hook.
    pub post_receive: PathBuf,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn update_hook(default_branch: &str) -> String {
    let full = quote(&format!("refs/heads/{default_branch}"));
    format!(
        r#"#!/bin/sh
# Written by `pika-news hooks install`; it is rewritten on the next install.
# The default branch changes only by a merge through pika-news.
ref="$1"
old="$2"
if [ "$ref" = {full} ]; then
  case "$old" in
    *[!0]*) ;;
    *) exit 0 ;; # the default branch does not exist yet: creating it is fine
  esac
  echo "pika-news: direct pushes to {default_branch} are refused; push a branch and merge it with \`ph merge\` or the branch page's Merge button" >&2
  exit 1
fi
exit 0
"#
    )
}

fn post_receive_hook(git_dir: &Path) -> String {
    let wake = quote(&git_dir.join(WAKE_FILE).to_string_lossy());
    format!(
        r#"#!/bin/sh
# Written by `pika-news hooks install`; it is rewritten on the next install.
# Tells pika-news that heads changed: the server watches this file.
cat >/dev/null
if ! date +%s >{wake} 2>/dev/null; then
  echo "pika-news: could not write {WAKE_FILE}; the server sees this push at its next poll" >&2
fi
exit 0
"#
    )
}

/// The folder git runs this repository's hooks from (`core.hooksPath`, else
/// `hooks/` in the git folder).
fn hooks_dir(repo: &BareRepo) -> Result<PathBuf, ForgeError> {
    let out = repo.output(&["config", "--get", "core.hooksPath"], None)?;
    let configured = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Ok(match (out.status.success(), configured.is_empty()) {
        (true, false) => repo.git_dir().join(configured),
        _ => repo.git_dir().join("hooks"),
    })
}

fn write_hook(path: &Path, text: &str) -> Result<(), ForgeError> {
    let io = |source| ForgeError::Hook {
        hook: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        source,
    };
    // Written beside and renamed, so a push never runs half a hook.
    let tmp = path.with_extension("pika-news-tmp");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Writes both hooks into `repo` for `default_branch` (replacing any there).
pub fn install_hooks(repo: &BareRepo, default_branch: &str) -> Result<InstalledHooks, ForgeError> {
    if !valid_branch_name(default_branch) {
        return Err(ForgeError::InvalidName(
            default_branch.chars().take(80).collect(),
        ));
    }
    // The hooks name the repository by its absolute path (a hook's working
    // folder is the git folder, but core.hooksPath may share hooks).
    let git_dir = std::fs::canonicalize(repo.git_dir()).map_err(|source| ForgeError::Hook {
        hook: "the git folder".into(),
        source,
    })?;
    let dir = hooks_dir(repo)?;
    std::fs::create_dir_all(&dir).map_err(|source| ForgeError::Hook {
        hook: "the hooks folder".into(),
        source,
    })?;
    let hooks = InstalledHooks {
        update: dir.join("update"),
        post_receive: dir.join("post-receive"),
    };
    write_hook(&hooks.update, &update_hook(default_branch))?;
    write_hook(&hooks.post_receive, &post_receive_hook(&git_dir))?;
    Ok(hooks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_with_a_quote_stays_one_shell_word() {
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert!(update_hook("main").contains("if [ \"$ref\" = 'refs/heads/main' ]"));
    }
}

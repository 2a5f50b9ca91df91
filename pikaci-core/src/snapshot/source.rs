//! The source tree: git facts about it, and the snapshot jobs run in.

use std::io;
use std::process::Command;

use camino::{Utf8Path, Utf8PathBuf};

/// What git says about the source, when it is a git checkout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitInfo {
    /// `HEAD`'s commit.
    pub head: Option<String>,
    /// The branch checked out (`main`), when `HEAD` is not detached.
    pub branch: Option<String>,
    /// Whether there are changes not committed.
    pub dirty: Option<bool>,
    /// Files changed in the checkout (relative paths).
    pub changed_files: Vec<String>,
}

/// Runs git in `source`. `core.fsmonitor` is turned off whatever the
/// configuration says: reading the source must never start a program the
/// configuration names (a CI host's `~/.gitconfig` may have been written by
/// an earlier job). pika-news also runs pikaci with `GIT_CONFIG_GLOBAL` and
/// `GIT_CONFIG_NOSYSTEM` set, so no global configuration is read at all.
fn git(source: &Utf8Path, args: &[&str]) -> Option<Vec<u8>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(source)
        .args(["-c", "core.fsmonitor=false"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

/// Reads `HEAD`, dirtiness and changed files; all empty outside a git checkout.
pub fn git_info(source: &Utf8Path) -> GitInfo {
    // One git for both: the commit, then the branch's short name (`HEAD`
    // when detached). It fails, as `--verify` would, before the first commit.
    let Some(out) = git(source, &["rev-parse", "HEAD", "--abbrev-ref", "HEAD"]) else {
        return GitInfo::default();
    };
    let out = String::from_utf8_lossy(&out);
    let mut lines = out.lines().map(str::trim);
    let Some(head) = lines.next().filter(|h| !h.is_empty()).map(str::to_owned) else {
        return GitInfo::default();
    };
    let branch = lines
        .next()
        .filter(|b| !b.is_empty() && *b != "HEAD")
        .map(str::to_owned);
    let status = git(
        source,
        &["status", "--porcelain=v1", "-z", "--untracked-files=all"],
    )
    .unwrap_or_default();
    let mut changed_files = Vec::new();
    let mut entries = status.split(|b| *b == 0).filter(|e| !e.is_empty());
    while let Some(entry) = entries.next() {
        if entry.len() < 4 {
            continue;
        }
        let code = &entry[..2];
        changed_files.push(String::from_utf8_lossy(&entry[3..]).into_owned());
        // A rename or copy is followed by its original path.
        if code[0] == b'R' || code[0] == b'C' {
            entries.next();
        }
    }
    GitInfo {
        head: Some(head),
        branch,
        dirty: Some(!changed_files.is_empty()),
        changed_files,
    }
}

/// The files a snapshot holds: tracked plus untracked-not-ignored files of a
/// git checkout, or every file below `source` otherwise. Paths are relative.
pub fn snapshot_files(source: &Utf8Path) -> io::Result<Vec<Utf8PathBuf>> {
    if let Some(out) = git(
        source,
        &[
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
    ) {
        return Ok(out
            .split(|b| *b == 0)
            .filter(|p| !p.is_empty())
            .filter_map(|p| std::str::from_utf8(p).ok())
            .map(Utf8PathBuf::from)
            .collect());
    }
    let mut files = Vec::new();
    walk(source, Utf8Path::new(""), &mut files)?;
    Ok(files)
}

fn walk(root: &Utf8Path, rel: &Utf8Path, out: &mut Vec<Utf8PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let path = rel.join(&name);
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Copies `files` (relative to `source`) into `dest`, leaving out anything
/// under `exclude` (the state root, when it lies inside the source). Symbolic
/// links are copied as links. Returns the number of files copied.
pub fn copy_snapshot(
    source: &Utf8Path,
    files: &[Utf8PathBuf],
    dest: &Utf8Path,
    exclude: Option<&Utf8Path>,
) -> io::Result<usize> {
    std::fs::create_dir_all(dest)?;
    let mut copied = 0;
    for rel in files {
        let from = source.join(rel);
        if exclude.is_some_and(|ex| from.starts_with(ex)) {
            continue;
        }
        let to = dest.join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let meta = match std::fs::symlink_metadata(&from) {
            Ok(m) => m,
            // Deleted since git listed it: nothing to copy.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&from)?;
            std::os::unix::fs::symlink(target, &to)?;
        } else if meta.is_file() {
            std::fs::copy(&from, &to)?;
        } else {
            continue;
        }
        copied += 1;
    }
    Ok(copied)
}

/// Copies a whole folder tree (for a writable job's private copy of the snapshot).
pub fn copy_tree(from: &Utf8Path, to: &Utf8Path) -> io::Result<usize> {
    let mut files = Vec::new();
    walk(from, Utf8Path::new(""), &mut files)?;
    copy_snapshot(from, &files, to, None)
}

/// Makes a tree read-only for its owner and everyone else (files 0444 or
/// 0555, folders 0555). This stops jobs running as a normal user; root is not
/// stopped by permission bits.
pub fn make_read_only(dir: &Utf8Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            continue;
        }
        if kind.is_dir() {
            let Ok(p) = Utf8PathBuf::from_path_buf(path.clone()) else {
                continue;
            };
            make_read_only(&p)?;
        }
        let mode = entry.metadata()?.permissions().mode();
        let ro = if kind.is_dir() || mode & 0o111 != 0 {
            0o555
        } else {
            0o444
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(ro))?;
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555))
}

/// Removes a tree that [`make_read_only`] may have locked.
pub fn remove_tree(dir: &Utf8Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fn unlock(dir: &std::path::Path) -> io::Result<()> {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                unlock(&entry.path())?;
            }
        }
        Ok(())
    }
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    unlock(dir.as_std_path())?;
    std::fs::remove_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use git_fixture::sh;

    use super::*;

    #[test]
    fn snapshot_takes_tracked_and_untracked_but_not_ignored_nor_the_state_root() {
        let tmp = tempfile::tempdir().unwrap();
        let src = Utf8Path::from_path(tmp.path()).unwrap().join("src");
        std::fs::create_dir_all(&src).unwrap();
        sh(
            &src,
            "git init -q -b topic/one . && printf 'target\\n' > .gitignore && echo a > a.txt && mkdir -p d target .pikaci/runs \
             && echo b > d/b.txt && echo t > target/big && echo r > .pikaci/runs/x && git add .gitignore a.txt \
             && git commit -qm init && echo new > new.txt && echo changed >> a.txt",
        );
        let info = git_info(&src);
        assert_eq!(info.head.as_ref().map(String::len), Some(40));
        assert_eq!(info.dirty, Some(true));
        assert_eq!(info.branch.as_deref(), Some("topic/one"));
        let mut changed = info.changed_files.clone();
        changed.sort();
        assert!(
            changed.contains(&"a.txt".to_owned()) && changed.contains(&"new.txt".to_owned()),
            "{changed:?}"
        );

        // A detached HEAD names no branch.
        sh(&src, "git checkout -q --detach");
        assert_eq!(git_info(&src).branch, None);
        assert!(git_info(&src).head.is_some());

        let files = snapshot_files(&src).unwrap();
        let dest = src.parent().unwrap().join("snap");
        copy_snapshot(&src, &files, &dest, Some(&src.join(".pikaci"))).unwrap();
        assert_eq!(
            std::fs::read_to_string(dest.join("a.txt")).unwrap(),
            "a\nchanged\n"
        );
        assert!(dest.join("new.txt").exists() && dest.join("d/b.txt").exists());
        assert!(!dest.join("target").exists(), "ignored files stay out");
        assert!(!dest.join(".pikaci").exists(), "the state root stays out");

        make_read_only(&dest).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dest.join("a.txt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o222, 0);
        remove_tree(&dest).unwrap();
        assert!(!dest.exists());
    }

    #[test]
    fn outside_git_everything_is_copied_and_no_git_facts() {
        let tmp = tempfile::tempdir().unwrap();
        let src = Utf8Path::from_path(tmp.path()).unwrap().join("plain");
        std::fs::create_dir_all(src.join("x")).unwrap();
        std::fs::write(src.join("x/f"), "f").unwrap();
        assert_eq!(git_info(&src), GitInfo::default());
        let files = snapshot_files(&src).unwrap();
        assert_eq!(files, vec![Utf8PathBuf::from("x/f")]);
    }
}

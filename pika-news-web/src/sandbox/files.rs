//! The files of a sandboxed service: who owns what, with which mode.
//!
//! ```text
//! config file            0600 service   checked at start (the binary refuses a readable one)
//! database (+ -wal/-shm) 0600 service   made so at start
//! data_dir               0711 service   the lane user may pass through to its worktree, list nothing
//! data_dir/lane-logs     0700 service
//! data_dir/worktrees     0711 service
//!   lane-<id>-<fence>/   lane user      handed over before the lane, removed after it
//! state root             0755 lane user pikaci (as the lane user) writes runs; the service only reads
//! ```
//!
//! The service reads the state root, which lanes can write, as hostile input:
//! through the store only (no link followed, no FIFO opened, sizes capped),
//! and it never writes there.

use std::io;
use std::os::unix::fs::{PermissionsExt as _, lchown};

use camino::Utf8Path;

use super::tree::{Owner, give_tree};
use super::user::{LaneUser, SandboxError};
use crate::config::Config;

fn files_error(what: String) -> impl FnOnce(io::Error) -> SandboxError {
    move |source| SandboxError::Files { what, source }
}

fn set_mode(path: &Utf8Path, mode: u32) -> Result<(), SandboxError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(files_error(
        format!("setting the mode of {path} to {mode:04o}"),
    ))
}

fn make_dir(path: &Utf8Path, mode: u32) -> Result<(), SandboxError> {
    std::fs::create_dir_all(path).map_err(files_error(format!("creating {path}")))?;
    set_mode(path, mode)
}

/// Refuses a file (the configuration) that users other than its owner can
/// read or write: it may name secrets, and lanes run as another user.
pub fn check_private_file(path: &Utf8Path) -> Result<(), SandboxError> {
    let meta = std::fs::metadata(path).map_err(files_error(format!("inspecting {path}")))?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(SandboxError::NotPrivate {
            file: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// Gives the service's files the modes of the table above and hands the
/// state root to the lane user. Run at start, before any lane.
pub fn prepare_service_files(config: &Config, user: &LaneUser) -> Result<(), SandboxError> {
    let data = &config.forge_repo.data_dir;
    make_dir(data.root(), 0o711)?;
    make_dir(&data.lane_logs(), 0o700)?;
    make_dir(&data.worktrees(), 0o711)?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = format!("{}{suffix}", config.database);
        if std::fs::symlink_metadata(&file).is_ok() {
            set_mode(Utf8Path::new(&file), 0o600)?;
        }
    }
    let state_root = &config.forge_repo.pikaci_state_root;
    std::fs::create_dir_all(state_root).map_err(files_error(format!("creating {state_root}")))?;
    lchown(state_root, Some(user.uid()), Some(user.gid())).map_err(files_error(format!(
        "handing {state_root} to the lane user {}",
        user.name()
    )))?;
    set_mode(state_root, 0o755)
}

/// Hands a fresh worktree (made by the service, before the lane starts) to
/// the lane user: every entry, links themselves and never their targets,
/// through file descriptors only and the top folder last (see
/// [`super::tree`]), so a lane running meanwhile cannot redirect it.
pub fn hand_over(dir: &Utf8Path, user: &LaneUser) -> io::Result<()> {
    give_tree(
        dir,
        Owner {
            uid: user.uid(),
            gid: user.gid(),
        },
        Some(0o700),
    )
}

/// Removes a worktree the lane user owns: first as that user (`rm -rf`, so
/// a service without `CAP_DAC_OVERRIDE` can remove what the lane made),
/// then what is left (the top folder, in the service's folder) as the
/// service, with `std`'s removal that never follows a link.
pub fn remove_worktree_as(dir: &Utf8Path, user: &LaneUser) -> io::Result<()> {
    if std::fs::symlink_metadata(dir).is_err() {
        return Ok(());
    }
    let mut rm = std::process::Command::new("rm");
    rm.args(["-rf", "--one-file-system", "--"])
        .arg(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    user.apply_std(&mut rm);
    // It cannot remove the top folder (its parent is the service's): fine.
    let _ = rm.status();
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_readable_file_is_refused_a_private_one_passes() {
        let dir = tempfile::tempdir().unwrap();
        let file = camino::Utf8PathBuf::try_from(dir.path().join("pika-news.toml")).unwrap();
        std::fs::write(&file, "x").unwrap();
        set_mode(&file, 0o644).unwrap();
        let err = check_private_file(&file).unwrap_err();
        assert!(
            err.to_string().contains("mode 0644") && err.to_string().contains("chmod 600"),
            "{err}"
        );
        set_mode(&file, 0o600).unwrap();
        check_private_file(&file).unwrap();
    }
}

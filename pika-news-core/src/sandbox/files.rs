//! The files of a sandboxed service: who owns what, with which mode.
//!
//! ```text
//! config file            0600 service   checked at start (the binary refuses a readable one)
//! database (+ -wal/-shm) 0600 service   made so at start
//! data_dir               0711 service   the lane user may pass through to its worktree, list nothing
//! data_dir/lane-logs     0700 service
//! data_dir/worktrees     0711 service
//!   lane-<id>-<fence>/   lane user      handed over before the lane, removed after it
//! data_dir/lane-homes    0711 service
//!   lane-<id>-<fence>/   lane user 0700 the lane's HOME, its TMPDIR in tmp/; removed after it
//! state root             0755 service
//!   runs/                1770 service, the lanes' group: a lane creates its run folder
//!     <run_id>/          the lane that made it, until the lane ends; then the service's
//! ```
//!
//! The service reads the state root, which lanes can write, as hostile input:
//! through the store only (no link followed, no FIFO opened, sizes capped),
//! and it never writes there.

use std::io;
use std::os::unix::fs::PermissionsExt as _;

use camino::Utf8Path;

use nix::errno::Errno;
use nix::sys::stat::{Mode, fchmod, mkdirat};
use nix::unistd::{Gid, Uid, fchown};
use pikaci_store::RUNS_DIR;

use super::accounts::LaneAccounts;
use super::tree::{Owner, give_tree, open_dir, open_dir_at};
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

/// Gives the service's files the modes of the table above and makes the
/// state root the service's, with `runs/` writable by the lanes' group.
/// Run at start, before any lane.
pub fn prepare_service_files(config: &Config, accounts: &LaneAccounts) -> Result<(), SandboxError> {
    let data = &config.forge_repo.data_dir;
    make_dir(data.root(), 0o711)?;
    make_dir(&data.lane_logs(), 0o700)?;
    make_dir(&data.worktrees(), 0o711)?;
    make_dir(&data.lane_homes(), 0o711)?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let file = format!("{}{suffix}", config.database);
        if std::fs::symlink_metadata(&file).is_ok() {
            set_mode(Utf8Path::new(&file), 0o600)?;
        }
    }
    prepare_state_root(&config.forge_repo.pikaci_state_root, accounts.gid())
}

/// The state root: the service's (`0755`), and its `runs/` the service's
/// with the lanes' group, `1770`: a lane may create a run folder there
/// (its own), and the sticky bit stops it from renaming or removing anyone
/// else's, or `runs/` itself. An older state root the lane user owned is
/// taken back, through descriptors only: a `runs` that is not a real folder
/// (a link a lane left) is refused, never followed.
fn prepare_state_root(state_root: &Utf8Path, lanes_gid: u32) -> Result<(), SandboxError> {
    let what = |w: &str| files_error(format!("{w} of the state root {state_root}"));
    std::fs::create_dir_all(state_root).map_err(what("creating the folder"))?;
    let me = (Uid::effective(), Gid::effective());
    let top = open_dir(state_root).map_err(what("opening the folder"))?;
    fchown(&top, Some(me.0), Some(me.1)).map_err(|e| what("taking back the folder")(e.into()))?;
    fchmod(&top, Mode::from_bits_truncate(0o755))
        .map_err(|e| what("setting the mode")(e.into()))?;
    match mkdirat(&top, RUNS_DIR, Mode::from_bits_truncate(0o770)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(what("creating runs/")(e.into())),
    }
    let runs = open_dir_at(&top, RUNS_DIR)
        .map_err(what("opening runs/ (it must be a real folder, not a link)"))?;
    fchown(&runs, Some(me.0), Some(Gid::from_raw(lanes_gid)))
        .map_err(|e| what("giving runs/ to the lanes' group")(e.into()))?;
    fchmod(&runs, Mode::from_bits_truncate(0o1770))
        .map_err(|e| what("setting the mode of runs/")(e.into()))
}

/// Makes a lane's fresh `HOME` at `home` (mode 0700) with its `TMPDIR`
/// inside ([`LANE_TMP`]), given to `owner` when the lane runs as another
/// user. Anything left at `home` (a dead server's lane) is removed first.
pub fn make_lane_home(home: &Utf8Path, owner: Option<&LaneUser>) -> io::Result<()> {
    if std::fs::symlink_metadata(home).is_ok() {
        match owner {
            Some(user) => remove_worktree_as(home, user)?,
            None => std::fs::remove_dir_all(home)?,
        }
    }
    if let Some(parent) = home.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::create_dir(home)?;
    std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700))?;
    std::fs::create_dir(home.join(LANE_TMP))?;
    std::fs::set_permissions(home.join(LANE_TMP), std::fs::Permissions::from_mode(0o700))?;
    match owner {
        Some(user) => give_tree(
            home,
            Owner {
                uid: user.uid(),
                gid: user.gid(),
            },
            Some(0o700),
        ),
        None => Ok(()),
    }
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

/// Gives a finished run's folder to the service (owner and group), through
/// descriptors only: no lane, and no later lane given the same uid, can
/// change its record or logs any more. The lane that made it has ended.
pub fn seal_run(state_root: &Utf8Path, run: &pikaci_core::RunId) -> io::Result<()> {
    let dir = pikaci_store::StateRoot::new(state_root).run_dir(run);
    give_tree(
        &dir,
        Owner {
            uid: Uid::effective().as_raw(),
            gid: Gid::effective().as_raw(),
        },
        None,
    )
}

/// The lane's `TMPDIR`, inside its `HOME`.
pub const LANE_TMP: &str = "tmp";

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
    fn a_state_root_a_lane_owned_is_taken_back_and_a_runs_link_is_refused() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let root = camino::Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();
        let lane = (3_000_700, 3_000_700);
        let chown =
            |p: &Utf8Path| std::os::unix::fs::lchown(p, Some(lane.0), Some(lane.1)).unwrap();
        let meta = |p: &Utf8Path| std::fs::symlink_metadata(p).unwrap();

        // An older state root: the lane user's, runs/ and a run in it too.
        let state = root.join("state");
        std::fs::create_dir_all(state.join("runs/r1")).unwrap();
        for p in [&state, &state.join("runs"), &state.join("runs/r1")] {
            chown(p);
        }
        prepare_state_root(&state, 4_000_000).unwrap();
        let (top, runs) = (meta(&state), meta(&state.join("runs")));
        assert_eq!((top.uid(), top.mode() & 0o7777), (0, 0o755));
        assert_eq!(
            (runs.uid(), runs.gid(), runs.mode() & 0o7777),
            (0, 4_000_000, 0o1770)
        );
        assert_eq!(
            meta(&state.join("runs/r1")).uid(),
            lane.0,
            "runs stay their lanes'"
        );

        // A lane left runs/ as a link to a folder of root's: refused, not followed.
        let target = root.join("etc-like");
        std::fs::create_dir(&target).unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
        let state = root.join("state2");
        std::fs::create_dir(&state).unwrap();
        chown(&state);
        std::os::unix::fs::symlink(&target, state.join("runs")).unwrap();
        let err = prepare_state_root(&state, 4_000_000).unwrap_err();
        assert!(err.to_string().contains("not a link"), "{err}");
        let t = meta(&target);
        assert_eq!((t.uid(), t.gid(), t.mode() & 0o7777), (0, 0, 0o755));
    }

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

//! [`LaneUser`]: the unprivileged user lanes run as, and [`Confinement`]:
//! everything that confines one lane's child.
//!
//! Switching user goes through `std`'s `CommandExt::uid` and `gid` (tokio's
//! `Command` forwards them). In the forked child `std` calls `setgid`, then,
//! because no explicit supplementary groups were given, `setgroups(0, NULL)`
//! (dropping every group the service belongs to), then `setuid`, before it
//! executes the program. That is exactly the switch a lane needs, with no
//! `unsafe` here and no extra program: `CommandExt::groups` is unstable and
//! not needed, a `pre_exec` hook would need `unsafe`, and `runuser` would
//! bring PAM sessions into every lane. The lane user's own primary group is
//! kept; a test checks `id -u` and `id -G` inside a lane.

use camino::{Utf8Path, Utf8PathBuf};
use nix::unistd::{Uid, User};
use pikaci_core::engine::supervisor::JobSupervisor;

use super::PathDirs;

/// Why lanes cannot be sandboxed as configured.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// `run_as_user` names no user of this host.
    #[error(
        "the lane user {name:?} does not exist: create it (e.g. `useradd --system --user-group --create-home --home-dir /var/lib/{name} {name}`; `bash scripts/test-setup.sh` does for the tests)"
    )]
    NoSuchUser {
        /// The configured name.
        name: String,
    },
    /// The user database could not be read.
    #[error("looking up the lane user {name:?}")]
    Lookup {
        /// The configured name.
        name: String,
        /// Why.
        #[source]
        source: nix::Error,
    },
    /// `run_as_user` names root, or the user the service runs as.
    #[error(
        "the lane user {name:?} would give lanes the service's own rights (uid {uid}): pick a dedicated unprivileged user"
    )]
    NotSeparate {
        /// The configured name.
        name: String,
        /// Its uid.
        uid: u32,
    },
    /// A file holding the service's secrets can be read by other users.
    #[error(
        "{file} is readable by other users (mode {mode:04o}) while lanes run as another user: `chmod 600 {file}`"
    )]
    NotPrivate {
        /// The file.
        file: Utf8PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Both `run_as_user` and `uid_range` are set.
    #[error("[lanes] sets both run_as_user and uid_range: keep one")]
    UserAndRange,
    /// `uid_range` holds the service's uid, or `gid` is root's or the service's.
    #[error(
        "the lanes' uid_range {range} or gid {gid} would give lanes the service's own rights: pick numbers nobody else uses"
    )]
    RangeNotSeparate {
        /// The configured range.
        range: String,
        /// The lanes' group.
        gid: u32,
    },
    /// Every uid of `uid_range` is lent to a lane or used by a process.
    #[error(
        "no uid of uid_range {range} is free (each is held by a running lane or used by a process): widen the range"
    )]
    NoFreeUid {
        /// The configured range.
        range: String,
    },
    /// Preparing the service's files failed.
    #[error("{what}")]
    Files {
        /// What was being done, naming the file.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The unprivileged user lanes run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneUser {
    name: String,
    uid: u32,
    gid: u32,
    home: Utf8PathBuf,
}

impl LaneUser {
    /// Looks `name` up in the user database. Root and the user the service
    /// runs as are refused: lanes running as either could reach everything
    /// the service has.
    pub fn lookup(name: &str) -> Result<Self, SandboxError> {
        let user = User::from_name(name)
            .map_err(|source| SandboxError::Lookup {
                name: name.to_owned(),
                source,
            })?
            .ok_or_else(|| SandboxError::NoSuchUser {
                name: name.to_owned(),
            })?;
        if user.uid.is_root() || user.uid == Uid::effective() {
            return Err(SandboxError::NotSeparate {
                name: name.to_owned(),
                uid: user.uid.as_raw(),
            });
        }
        Ok(Self {
            name: user.name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            home: Utf8PathBuf::from_path_buf(user.dir).unwrap_or_else(|_| "/".into()),
        })
    }

    /// A uid of `uid_range` with the lanes' group: it needs no entry in the
    /// user database. Its name is `pika-lane-<uid>`; it has no home of its
    /// own (each lane gets a fresh one).
    pub fn pooled(uid: u32, gid: u32) -> Self {
        Self {
            name: format!("pika-lane-{uid}"),
            uid,
            gid,
            home: "/nonexistent".into(),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its uid.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// Its primary group, the only group a lane keeps.
    pub fn gid(&self) -> u32 {
        self.gid
    }

    /// Its home folder in the user database (a lane gets a fresh `HOME`
    /// of its own instead).
    pub fn home(&self) -> &Utf8Path {
        &self.home
    }

    /// Makes `cmd` start as this user (see the module's comment for how).
    pub fn apply(&self, cmd: &mut tokio::process::Command) {
        cmd.uid(self.uid).gid(self.gid);
    }

    /// The same for a blocking command.
    pub fn apply_std(&self, cmd: &mut std::process::Command) {
        use std::os::unix::process::CommandExt as _;
        cmd.uid(self.uid).gid(self.gid);
    }

    /// The variables that say who the lane is, replacing the service's.
    pub fn identity_env(&self) -> [(&'static str, String); 2] {
        [("USER", self.name.clone()), ("LOGNAME", self.name.clone())]
    }
}

/// What confines one lane's child besides its process group and its
/// environment allow-list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Confinement {
    /// The user it runs as (`None`: as the service).
    pub user: Option<LaneUser>,
    /// util-linux `setpriv`, when found: the child is started as
    /// `setpriv --pdeathsig TERM -- <command>`, so the kernel sends it
    /// SIGTERM if the server dies without stopping it (SIGKILL, a crash). A
    /// pikaci lane's `pikaci` then cancels its run, stopping its jobs'
    /// process groups, and records the run as cancelled.
    pub setpriv: Option<Utf8PathBuf>,
    /// The `PATH` a lane run as a lane user gets instead of the service's
    /// (`None`: [`DEFAULT_LANE_PATH`](super::DEFAULT_LANE_PATH)).
    pub lane_path: Option<String>,
    /// The job supervisor an argv lane runs under, when set: it adopts
    /// what the lane's command leaves behind (a daemon that called
    /// `setsid` included), stops all of it when the lane is stopped or the
    /// server dies, and kills what is left when the command ends.
    pub supervisor: Option<JobSupervisor>,
}

impl Confinement {
    /// The `setpriv` on `path` (a `PATH` value), if any.
    pub fn find_setpriv(path: Option<&str>) -> Option<Utf8PathBuf> {
        super::which("setpriv", path, PathDirs::AbsoluteOnly)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_unknown_users_are_refused() {
        let err = LaneUser::lookup("root").unwrap_err();
        assert!(
            matches!(err, SandboxError::NotSeparate { uid: 0, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("unprivileged"), "{err}");
        let err = LaneUser::lookup("no-such-user-pn").unwrap_err();
        assert!(matches!(err, SandboxError::NoSuchUser { .. }), "{err}");
        assert!(err.to_string().contains("useradd"), "{err}");
    }

    #[test]
    fn setpriv_is_found_on_a_path() {
        assert_eq!(
            Confinement::find_setpriv(Some("relative:/nonexistent-pn")),
            None
        );
        // util-linux is essential on Debian; the test setup checks for it.
        assert!(Confinement::find_setpriv(Some("/usr/bin:/bin")).is_some());
    }
}

//! [`WakeWatch`]: the server's side of the `post-receive` hook.

use std::os::fd::{AsFd as _, AsRawFd, RawFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::io::unix::AsyncFd;

/// The file the `post-receive` hook writes in the git folder after a push.
pub const WAKE_FILE: &str = "pika-news-wake";

/// An inotify descriptor as tokio wants it.
struct Fd(Inotify);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// Waits for pushes: an inotify watch on the git folder that reports each
/// time [`WAKE_FILE`] is written (closed after writing, or renamed into place).
pub struct WakeWatch {
    fd: AsyncFd<Fd>,
}

impl std::fmt::Debug for WakeWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WakeWatch").finish_non_exhaustive()
    }
}

impl WakeWatch {
    /// Watches `git_dir` (needs a tokio runtime with I/O enabled).
    #[expect(
        deprecated,
        reason = "its replacement, AsyncFd::register, is unsafe (forbidden here); the descriptor is owned by the value registered, so it cannot be closed while registered, which is what the deprecation is about"
    )]
    pub fn new(git_dir: &Path) -> std::io::Result<Self> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        inotify.add_watch(
            git_dir,
            AddWatchFlags::IN_CLOSE_WRITE | AddWatchFlags::IN_MOVED_TO,
        )?;
        Ok(Self {
            fd: AsyncFd::new(Fd(inotify))?,
        })
    }

    /// Returns once the hook wrote [`WAKE_FILE`] (since the last return).
    /// Other files of the folder are ignored. An overflowed queue counts as
    /// a push, as one may be among the lost events.
    pub async fn pushed(&mut self) -> std::io::Result<()> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.get_inner().0.read_events() {
                Ok(events) => {
                    if events.iter().any(|e| {
                        e.mask.contains(AddWatchFlags::IN_Q_OVERFLOW)
                            || e.name.as_deref().is_some_and(|n| n == WAKE_FILE)
                    }) {
                        return Ok(());
                    }
                }
                Err(Errno::EAGAIN) => guard.clear_ready(),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

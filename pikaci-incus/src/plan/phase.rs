//! The timed phases of one job, as recorded in `run.json`.

use std::fmt;

/// The timed phases of one job, as recorded in `remote_linux_vm_execution`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Delete a leftover instance of the same name.
    DeleteStale,
    /// Make an empty host folder for `/artifacts` (mount mode).
    PrepareArtifacts,
    /// `incus init`, with the disk devices in mount mode.
    InitInstance,
    /// `incus start`.
    StartInstance,
    /// Probe with `exec -- true` until the VM's agent answers (VMs only).
    WaitReady,
    /// Copy the snapshot (and staged folders) into the instance (push mode).
    PushFiles,
    /// Run `pikaci-incus-run` in the guest.
    LaunchGuest,
    /// Read `result.json` (and `guest.log`) from `/artifacts`.
    CollectArtifacts,
    /// `incus delete --force` and removal of the artifacts folder.
    DeleteInstance,
}

impl Phase {
    /// The name recorded in `run.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeleteStale => "delete_stale",
            Self::PrepareArtifacts => "prepare_artifacts",
            Self::InitInstance => "init_instance",
            Self::StartInstance => "start_instance",
            Self::WaitReady => "wait_ready",
            Self::PushFiles => "push_files",
            Self::LaunchGuest => "launch_guest",
            Self::CollectArtifacts => "collect_artifacts",
            Self::DeleteInstance => "delete_instance",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

//! The owner's lock of a run folder: while pikaci runs a run it holds the
//! run's folder locked exclusively (`flock`), and says so in the record
//! ([`RunOwner::lock`](pikaci_core::RunOwner::lock)). The kernel drops the
//! lock when pikaci dies, however it dies, so a reader that tries it knows
//! at once whether the run can still finish, whatever pid or start time the
//! record names.
//!
//! The lock is the folder's own, the one gc takes exclusively before it
//! deletes a run and a rerun holds shared while it runs in the run's kept
//! snapshot: gc cannot take a running run, and a reader's brief shared try
//! is not disturbed by a rerun's shared hold of a finished run.

use pikaci_core::{Liveness, LockProbe, OwnerState, RunId, RunRecord};

use crate::error::StoreError;
use crate::fs::{FolderHold, Fs};
use crate::store::Store;

impl<F: Fs> Store<F> {
    /// Locks run `run`'s folder exclusively for the process that runs it,
    /// until the returned hold is dropped or the process ends. Fails when
    /// the folder is missing or someone else holds it.
    pub fn lock_as_owner(&self, run: &RunId) -> Result<FolderHold, StoreError> {
        self.fs
            .try_hold_exclusive(&self.root.run_dir(run))
            .map_err(|e| {
                StoreError::io(format!("locking the folder of run {run}"))(self.relative(e))
            })
    }

    /// Tries run `run`'s folder lock without waiting and without keeping it.
    pub fn try_owner_lock(&self, run: &RunId) -> LockProbe {
        match self.fs.held_exclusively(&self.root.run_dir(run)) {
            Ok(true) => LockProbe::Held,
            Ok(false) => LockProbe::Free,
            Err(_) => LockProbe::Unknown,
        }
    }

    /// How the owner of `record` (read from its own run folder: the store
    /// checks the record names it) stands: by the folder's lock when the
    /// record says its owner took it, else by its pid (`liveness`).
    pub fn owner_state(&self, record: &RunRecord, liveness: &dyn Liveness) -> OwnerState {
        liveness.owner_state_with(record, &|| self.try_owner_lock(&record.run_id))
    }

    /// Whether `record` says `running` but its owner is gone (see
    /// [`Store::owner_state`]).
    pub fn is_orphaned(&self, record: &RunRecord, liveness: &dyn Liveness) -> bool {
        self.owner_state(record, liveness) == OwnerState::Gone
    }
}

#[cfg(test)]
mod tests {
    use pikaci_core::{ProcessProbe, RunOwner, RunStatus};

    use super::*;
    use crate::{DiskFs, MemFs, StateRoot};

    /// Every pid is alive, with the start time the record names: only the
    /// lock can tell.
    struct EveryPidAlive;
    impl Liveness for EveryPidAlive {
        fn this_host(&self) -> &str {
            "h"
        }
        fn is_alive(&self, _: u32) -> bool {
            true
        }
        fn probe(&self, _: u32) -> ProcessProbe {
            ProcessProbe::Running {
                start_ticks: Some(7),
            }
        }
    }

    fn lock_owning(id: &str) -> RunRecord {
        let mut r = RunRecord::for_test(id);
        r.status = RunStatus::Running;
        r.owner = Some(RunOwner {
            pid: 1,
            host: "h".into(),
            start_ticks: Some(7),
            lock: true,
        });
        r
    }

    fn judge_by_lock<F: Fs>(store: &Store<F>) {
        let r = lock_owning("20260324T161238Z-1a2b3c4d");
        store.persist_run_record(&r).unwrap();
        // Nobody holds it: the owner is gone, whatever its pid says.
        assert_eq!(store.owner_state(&r, &EveryPidAlive), OwnerState::Gone);
        let hold = store.lock_as_owner(&r.run_id).unwrap();
        assert_eq!(store.owner_state(&r, &EveryPidAlive), OwnerState::Alive);
        // The try does not take the lock: the owner's hold is untouched,
        // and a second owner cannot take it.
        assert!(store.lock_as_owner(&r.run_id).is_err());
        drop(hold);
        assert_eq!(store.owner_state(&r, &EveryPidAlive), OwnerState::Gone);
        // A rerun's shared hold of the folder is not an owner.
        let rerun = store.hold_run(&r.run_id).unwrap();
        assert_eq!(store.try_owner_lock(&r.run_id), LockProbe::Free);
        assert!(store.is_orphaned(&r, &EveryPidAlive));
        drop(rerun);
    }

    #[test]
    fn a_lock_owning_run_is_judged_by_its_folder_lock_in_memory() {
        judge_by_lock(&Store::with_fs(MemFs::new(), StateRoot::new("/s")));
    }

    #[test]
    fn a_lock_owning_run_is_judged_by_its_folder_lock_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let root = camino::Utf8PathBuf::from_path_buf(dir.path().to_owned()).unwrap();
        judge_by_lock(&Store::with_fs(DiskFs::new(), StateRoot::new(root)));
    }
}

//! Runs whose owner died: reported as interrupted, not `running` forever.

use jiff::Timestamp;
use pikaci_core::{Liveness, RunId, RunRecord};

use crate::error::StoreError;
use crate::fs::Fs;
use crate::store::Store;

impl<F: Fs> Store<F> {
    /// Loads a run and, when it says `running` but its owner process on this
    /// host is gone, marks it (and its running jobs) failed with
    /// `failure_kind = interrupted` and saves that. If the save fails (a
    /// read-only state root) the marked record is still returned, so readers
    /// always see the truth.
    pub fn load_run_record_reconciled(
        &self,
        run: &RunId,
        liveness: &dyn Liveness,
        now: Timestamp,
    ) -> Result<RunRecord, StoreError> {
        let mut record = self.load_run_record(run)?;
        if liveness.is_orphaned(&record) && record.mark_interrupted(now) {
            // Best effort: the owner is gone, so nobody else writes this file.
            let _ = self.persist_run_record(&record);
        }
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use pikaci_core::{FailureKind, RunOwner, RunStatus};

    use super::*;
    use crate::{MemFs, StateRoot};

    struct Fake {
        alive: Vec<u32>,
    }

    impl Liveness for Fake {
        fn this_host(&self) -> &str {
            "here"
        }
        fn is_alive(&self, pid: u32) -> bool {
            self.alive.contains(&pid)
        }
    }

    fn running(store: &Store<MemFs>, host: &str) -> RunRecord {
        let mut r = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        r.status = RunStatus::Running;
        r.finished_at = None;
        r.jobs[0].status = RunStatus::Running;
        r.owner = Some(RunOwner {
            pid: 7,
            host: host.into(),
            start_ticks: None,
        });
        store.persist_run_record(&r).unwrap();
        r
    }

    #[test]
    fn a_dead_owner_turns_running_into_interrupted_and_it_is_saved() {
        let store = Store::with_fs(MemFs::new(), StateRoot::new("/s"));
        let r = running(&store, "here");
        let now = r.created_at;
        let seen = store
            .load_run_record_reconciled(&r.run_id, &Fake { alive: vec![] }, now)
            .unwrap();
        assert_eq!(seen.status, RunStatus::Failed);
        assert_eq!(seen.failure_kind, Some(FailureKind::Interrupted));
        assert_eq!(store.load_run_record(&r.run_id).unwrap(), seen);
    }

    #[test]
    fn live_or_foreign_owners_are_left_alone() {
        let store = Store::with_fs(MemFs::new(), StateRoot::new("/s"));
        let r = running(&store, "here");
        let seen = store
            .load_run_record_reconciled(&r.run_id, &Fake { alive: vec![7] }, r.created_at)
            .unwrap();
        assert_eq!(seen.status, RunStatus::Running);
        let r = running(&store, "elsewhere");
        let seen = store
            .load_run_record_reconciled(&r.run_id, &Fake { alive: vec![] }, r.created_at)
            .unwrap();
        assert_eq!(seen.status, RunStatus::Running);
    }

    #[test]
    fn a_read_only_root_still_reports_the_truth() {
        let store = Store::with_fs(MemFs::new(), StateRoot::new("/s"));
        let r = running(&store, "here");
        store.fs().set_read_only(true);
        let seen = store
            .load_run_record_reconciled(&r.run_id, &Fake { alive: vec![] }, r.created_at)
            .unwrap();
        assert_eq!(seen.failure_kind, Some(FailureKind::Interrupted));
        assert_eq!(
            store.load_run_record(&r.run_id).unwrap().status,
            RunStatus::Running
        );
    }
}

//! Records the unit tests of several modules share.

use pikaci_core::{RunOwner, RunRecord, RunStatus};

use crate::fs::MemFs;
use crate::layout::StateRoot;
use crate::store::Store;

/// A store over an empty in-memory state root at `/s`.
pub(crate) fn store() -> Store<MemFs> {
    Store::with_fs(MemFs::new(), StateRoot::new("/s"))
}

/// A running run owned by pid 7 on `host`, saved in `store`.
pub(crate) fn running(store: &Store<MemFs>, host: &str) -> RunRecord {
    let mut r = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
    r.status = RunStatus::Running;
    r.finished_at = None;
    r.jobs[0].status = RunStatus::Running;
    r.owner = Some(RunOwner {
        pid: 7,
        host: host.into(),
        start_ticks: None,
        lock: false,
    });
    store.persist_run_record(&r).unwrap();
    r
}

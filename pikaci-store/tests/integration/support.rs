//! Shared test helpers: a store over each file system and record builders.

use camino::Utf8PathBuf;
use pikaci_core::{JobId, LogFile, RunId, RunRecord, RunStatus};
use pikaci_store::{DiskFs, Fs, JobLog, MemFs, StateRoot, Store};

/// A store on a temporary folder, plus the folder guard.
pub(crate) fn disk_store() -> (Store<DiskFs>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let root = Utf8PathBuf::from_path_buf(dir.path().join("state")).unwrap();
    (Store::open(root), dir)
}

/// A store over a fresh in-memory file system.
pub(crate) fn mem_store() -> (Store<MemFs>, ()) {
    (Store::with_fs(MemFs::new(), StateRoot::new("/state")), ())
}

/// Turns generic `fn name<F: Fs>(store: &Store<F>)` checks into one test per
/// file system: `disk::name` and `mem::name`.
#[macro_export]
macro_rules! on_both_fs {
    ($($name:ident),* $(,)?) => {
        mod disk {
            $( #[test] fn $name() { let (s, _guard) = $crate::support::disk_store(); super::$name(&s); } )*
        }
        mod mem {
            $( #[test] fn $name() { let (s, _guard) = $crate::support::mem_store(); super::$name(&s); } )*
        }
    };
}

/// A run id for second `n` of a fixed day.
pub(crate) fn run_id(n: u32) -> RunId {
    let t: jiff::Timestamp = "2026-03-24T00:00:00Z".parse().unwrap();
    RunId::from_parts(t + jiff::SignedDuration::from_secs(i64::from(n)), n)
}

/// A finished record for run `n`.
pub(crate) fn record(n: u32) -> RunRecord {
    RunRecord::for_test(run_id(n).as_str())
}

/// A record for run `n` that is still running.
pub(crate) fn running_record(n: u32) -> RunRecord {
    let mut r = record(n);
    r.status = RunStatus::Running;
    r.finished_at = None;
    r
}

/// The job id `build` every test record has.
pub(crate) fn build_job() -> JobId {
    "build".parse().unwrap()
}

/// The guest log of run `run`'s default job.
pub(crate) fn default_guest_log<F: Fs + Clone>(s: &Store<F>, run: &RunId) -> JobLog<F> {
    s.run(run).unwrap().job(None).unwrap().log(LogFile::Guest)
}

//! Writing runs: claiming a run folder, replacing `run.json` atomically, and
//! appending to job logs while the job runs.

use std::io::{self, Write};

use camino::Utf8PathBuf;
use std::sync::Arc;

use jiff::Timestamp;
use pikaci_core::log_times::Arrivals;
use pikaci_core::{JobId, Liveness, LogFile, RunId, RunRecord};
use pikaci_core::{
    SystemClock,
    engine::{OwnerLock, RunStore},
    process::LogSink,
};

use crate::error::StoreError;
use crate::fs::{EntryKind, Fs};
use crate::layout::RUN_JSON;
use crate::store::{Store, not_a_folder};

/// An append writer for one job log, writing straight into the run folder so
/// readers can follow the job while it runs, and recording when each write
/// arrived in the log's timestamp sidecar (`<log>.ts`, when it could be
/// opened: the log never depends on it).
pub struct JobLogWriter {
    inner: Box<dyn LogSink>,
    arrivals: Option<Arrivals>,
}

impl std::fmt::Debug for JobLogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobLogWriter").finish_non_exhaustive()
    }
}

impl Write for JobLogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(a) = &self.arrivals {
            a.advance(n as u64);
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl LogSink for JobLogWriter {
    fn as_file(&self) -> Option<&std::fs::File> {
        self.inner.as_file()
    }

    fn arrivals(&self) -> Option<Arrivals> {
        self.arrivals.clone()
    }
}

impl<F: Fs> Store<F> {
    /// Replaces `run.json` atomically: a reader sees the old record or the new
    /// one, never a torn file; the old one stays if the write fails.
    pub fn persist_run_record(&self, record: &RunRecord) -> Result<(), StoreError> {
        let run = &record.run_id;
        match self.kind(&self.root.run_dir(run), run)? {
            None | Some(EntryKind::Dir) => {}
            Some(_) => return Err(not_a_folder(run, ".")),
        }
        let mut bytes =
            serde_json::to_vec_pretty(record).map_err(|e| StoreError::InvalidInput {
                message: format!("run {run} cannot be serialised: {e}"),
            })?;
        bytes.push(b'\n');
        self.fs
            .write_atomic(&self.root.run_json(run), &bytes)
            .map_err(StoreError::io(format!("writing {RUN_JSON} of run {run}")))
    }

    /// `record` as readers must see it: when it says `running` but its
    /// owner process on this host is gone, marked (with its running jobs)
    /// failed with `failure_kind = interrupted` as of `now`, and that saved.
    /// If the save fails (a read-only state root) the marked record is still
    /// returned, so readers always see the truth. Reading never writes: a
    /// reader that may save the mark passes what it read through here.
    pub fn reconcile_record(
        &self,
        mut record: RunRecord,
        liveness: &dyn Liveness,
        now: Timestamp,
    ) -> RunRecord {
        if self.is_orphaned(&record, liveness) && record.mark_interrupted(now) {
            // Best effort: the owner is gone, so nobody else writes this file.
            let _ = self.persist_run_record(&record);
        }
        record
    }

    /// Creates the run's folder, failing if it exists: two runs can never
    /// share a folder, even when their ids collide. Returns `false` when the
    /// id is taken.
    pub fn claim_run(&self, run: &RunId) -> Result<bool, StoreError> {
        let what = || format!("creating the folder of run {run}");
        self.fs
            .create_dir_all(&self.root.runs_dir())
            .map_err(StoreError::io(what()))?;
        match self.fs.create_dir(&self.root.run_dir(run)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(StoreError::io(what())(e)),
        }
    }

    /// Opens a job log for appending (creating folders as needed).
    pub fn open_job_log(
        &self,
        run: &RunId,
        job: &JobId,
        file: LogFile,
    ) -> Result<JobLogWriter, StoreError> {
        let path = self.root.job_log(run, job, file);
        let before = self.fs.size(&path).ok().flatten().unwrap_or(0);
        let inner = self.fs.open_append(&path).map_err(StoreError::io(format!(
            "opening {} of run {run} job {job}",
            file.file_name()
        )))?;
        let arrivals = self.open_arrivals(run, job, file, before);
        Ok(JobLogWriter { inner, arrivals })
    }

    /// The log's timestamp sidecar, for a log of `log_len` bytes: a new one
    /// gets its header, an existing one is appended to. Anything in the way
    /// (a link planted there, a full disk) means no timestamps, never a
    /// failed log.
    fn open_arrivals(
        &self,
        run: &RunId,
        job: &JobId,
        file: LogFile,
        log_len: u64,
    ) -> Option<Arrivals> {
        let path = self.root.job_log_times(run, job, file);
        let existing = self.fs.size(&path).ok()?.unwrap_or(0);
        let sidecar: Box<dyn Write + Send> = Box::new(self.fs.open_append(&path).ok()?);
        let clock = Arc::new(SystemClock);
        if existing == 0 {
            Arrivals::create(sidecar, log_len, clock).ok()
        } else {
            Some(Arrivals::resume(sidecar, log_len, clock))
        }
    }
}

impl<F: Fs> RunStore for Store<F> {
    type Error = StoreError;

    fn persist_run_record(&self, record: &RunRecord) -> Result<(), StoreError> {
        Store::persist_run_record(self, record)
    }

    fn open_job_log(
        &self,
        run: &RunId,
        job: &JobId,
        file: LogFile,
    ) -> Result<Box<dyn LogSink>, StoreError> {
        Store::open_job_log(self, run, job, file)
            .map(|w: JobLogWriter| Box::new(w) as Box<dyn LogSink>)
    }

    fn job_log_path(&self, run: &RunId, job: &JobId, file: LogFile) -> Utf8PathBuf {
        self.root.job_log(run, job, file)
    }

    fn snapshot_dir(&self, run: &RunId) -> Utf8PathBuf {
        self.root.snapshot_dir(run)
    }

    fn kept_layout(&self, run: &RunId) -> Option<pikaci_core::snapshot::kept::KeptLayout> {
        Some(self.root.kept_layout(run))
    }

    fn load_run_record(&self, run: &RunId) -> Result<RunRecord, StoreError> {
        Store::load_run_record(self, run)
    }

    fn claim_run(&self, run: &RunId) -> Result<bool, StoreError> {
        Store::claim_run(self, run)
    }

    fn lock_as_owner(&self, run: &RunId) -> Option<OwnerLock> {
        Store::lock_as_owner(self, run)
            .ok()
            .map(|hold| Box::new(hold) as OwnerLock)
    }
}

#[cfg(test)]
mod tests {
    use pikaci_core::{FailureKind, RunStatus};

    use super::*;
    use crate::fixtures::{running, store};

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

    #[test]
    fn a_dead_owner_turns_running_into_interrupted_and_it_is_saved() {
        let store = store();
        let r = running(&store, "here");
        let seen = store.reconcile_record(r.clone(), &Fake { alive: vec![] }, r.created_at);
        assert_eq!(seen.status, RunStatus::Failed);
        assert_eq!(seen.failure_kind, Some(FailureKind::Interrupted));
        assert_eq!(store.load_run_record(&r.run_id).unwrap(), seen);
    }

    #[test]
    fn live_or_foreign_owners_are_left_alone() {
        let store = store();
        let r = running(&store, "here");
        let seen = store.reconcile_record(r.clone(), &Fake { alive: vec![7] }, r.created_at);
        assert_eq!(seen.status, RunStatus::Running);
        let foreign = running(&store, "elsewhere");
        let seen = store.reconcile_record(foreign, &Fake { alive: vec![] }, r.created_at);
        assert_eq!(seen.status, RunStatus::Running);
        assert_eq!(
            store.load_run_record(&r.run_id).unwrap().status,
            RunStatus::Running
        );
    }

    #[test]
    fn a_read_only_root_still_reports_the_truth() {
        let store = store();
        let r = running(&store, "here");
        store.fs().set_read_only(true);
        let seen = store.reconcile_record(r.clone(), &Fake { alive: vec![] }, r.created_at);
        assert_eq!(seen.failure_kind, Some(FailureKind::Interrupted));
        assert_eq!(
            store.load_run_record(&r.run_id).unwrap().status,
            RunStatus::Running
        );
    }
}

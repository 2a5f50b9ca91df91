//! [`StateRoot`]: the one place that knows where things live under a state root.

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::{JobId, LogFile, RunId};

/// The folder holding all runs.
pub const RUNS_DIR: &str = "runs";
/// A run's record.
pub const RUN_JSON: &str = "run.json";
/// The folder of a run holding one folder per job.
pub const JOBS_DIR: &str = "jobs";
/// The folder of a run holding the snapshot of the source.
pub const SNAPSHOT_DIR: &str = "snapshot";
/// Where gc moves a run before deleting it, so a crash never leaves half a run listed.
pub const TRASH_DIR: &str = ".trash";

/// A pikaci state root:
///
/// ```text
/// <root>/runs/<run_id>/run.json
/// <root>/runs/<run_id>/jobs/<job_id>/host.log
/// <root>/runs/<run_id>/jobs/<job_id>/guest.log
/// <root>/runs/<run_id>/jobs/<job_id>/guest.log.ts   (and host.log.ts: optional)
/// <root>/runs/<run_id>/snapshot/
/// ```
///
/// Every path is built from validated ids, so none can leave the root.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StateRoot {
    root: Utf8PathBuf,
}

impl StateRoot {
    /// A state root at `root` (not touched until used).
    pub fn new(root: impl Into<Utf8PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root folder.
    pub fn path(&self) -> &Utf8Path {
        &self.root
    }

    /// `<root>/runs`.
    pub fn runs_dir(&self) -> Utf8PathBuf {
        self.root.join(RUNS_DIR)
    }

    /// `<root>/runs/<run_id>`.
    pub fn run_dir(&self, run: &RunId) -> Utf8PathBuf {
        self.runs_dir().join(run.as_str())
    }

    /// `<root>/runs/<run_id>/run.json`.
    pub fn run_json(&self, run: &RunId) -> Utf8PathBuf {
        self.run_dir(run).join(RUN_JSON)
    }

    /// `<root>/runs/<run_id>/jobs`.
    pub fn jobs_dir(&self, run: &RunId) -> Utf8PathBuf {
        self.run_dir(run).join(JOBS_DIR)
    }

    /// `<root>/runs/<run_id>/jobs/<job_id>`.
    pub fn job_dir(&self, run: &RunId, job: &JobId) -> Utf8PathBuf {
        self.jobs_dir(run).join(job.as_str())
    }

    /// `<root>/runs/<run_id>/jobs/<job_id>/host.log` or `guest.log`.
    pub fn job_log(&self, run: &RunId, job: &JobId, file: LogFile) -> Utf8PathBuf {
        self.job_dir(run, job).join(file.file_name())
    }

    /// `<root>/runs/<run_id>/jobs/<job_id>/host.log.ts` or `guest.log.ts`:
    /// when each part of the log arrived (optional; see
    /// [`pikaci_core::log_times`]).
    pub fn job_log_times(&self, run: &RunId, job: &JobId, file: LogFile) -> Utf8PathBuf {
        self.job_dir(run, job).join(format!(
            "{}{}",
            file.file_name(),
            pikaci_core::log_times::SUFFIX
        ))
    }

    /// `<root>/runs/<run_id>/snapshot`.
    pub fn snapshot_dir(&self, run: &RunId) -> Utf8PathBuf {
        self.run_dir(run).join(SNAPSHOT_DIR)
    }

    /// `<root>/.trash`.
    pub fn trash_dir(&self) -> Utf8PathBuf {
        self.root.join(TRASH_DIR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_contract() {
        let root = StateRoot::new("/s");
        let run: RunId = "20260324T161238Z-1a2b3c4d".parse().unwrap();
        let job: JobId = "check".parse().unwrap();
        assert_eq!(
            root.run_json(&run),
            "/s/runs/20260324T161238Z-1a2b3c4d/run.json"
        );
        assert_eq!(
            root.job_log(&run, &job, LogFile::Host),
            "/s/runs/20260324T161238Z-1a2b3c4d/jobs/check/host.log"
        );
        assert_eq!(
            root.job_log(&run, &job, LogFile::Guest),
            "/s/runs/20260324T161238Z-1a2b3c4d/jobs/check/guest.log"
        );
        assert_eq!(
            root.job_log_times(&run, &job, LogFile::Guest),
            "/s/runs/20260324T161238Z-1a2b3c4d/jobs/check/guest.log.ts"
        );
    }
}

//! [`StateRoot`]: the one place that knows where things live under a state root.

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::{JobId, LogFile, RunId};

/// The folder holding all runs.
pub const RUNS_DIR: &str = "runs";
/// A run's record.
pub const RUN_JSON: &str = "run.json";
/// What a run prepared for later jobs or runs (optional; written by the
/// earlier pikaci).
pub const PREPARED_OUTPUTS_JSON: &str = "prepared-outputs.json";
/// The folder of a run holding one folder per job.
pub const JOBS_DIR: &str = "jobs";
/// The folder of a run holding the snapshot of the source.
pub const SNAPSHOT_DIR: &str = "snapshot";
/// A run's kept snapshot: the manifest naming each file's bytes in the
/// objects folder.
pub const SNAPSHOT_MANIFEST: &str = "snapshot.manifest";
/// The folder of shared file contents, named by their SHA-256, that kept
/// snapshots use.
pub const OBJECTS_DIR: &str = "objects";
/// Where gc moves a run before deleting it, so a crash never leaves half a run listed.
pub const TRASH_DIR: &str = ".trash";
/// The folder of a job where the earlier pikaci left the guest's files,
/// among them its `guest.log`.
pub const ARTIFACTS_DIR: &str = "artifacts";

/// Where in a job's folder a log is found. Readers look in
/// [`LogPlace::search_order`]: this pikaci's place first, then, for the guest
/// log only, where the earlier pikaci wrote it. Both are derived from the
/// layout and validated ids, never from the paths written in `run.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogPlace {
    /// `jobs/<job>/host.log` or `jobs/<job>/guest.log`: where this pikaci writes.
    JobFolder,
    /// `jobs/<job>/artifacts/guest.log`: where the earlier pikaci wrote the
    /// guest log. Read when `jobs/<job>/guest.log` is absent.
    Artifacts,
}

impl LogPlace {
    /// The places readers look for `file`, in order.
    pub fn search_order(file: LogFile) -> &'static [LogPlace] {
        match file {
            LogFile::Host => &[LogPlace::JobFolder],
            LogFile::Guest => &[LogPlace::JobFolder, LogPlace::Artifacts],
        }
    }

    /// The folder inside the job's folder that holds the log, if any.
    pub fn subfolder(self) -> Option<&'static str> {
        match self {
            Self::JobFolder => None,
            Self::Artifacts => Some(ARTIFACTS_DIR),
        }
    }

    /// The log's path relative to the job folder: `guest.log`, `artifacts/guest.log`.
    pub fn file_name(self, file: LogFile) -> String {
        match self.subfolder() {
            None => file.file_name().to_owned(),
            Some(sub) => format!("{sub}/{}", file.file_name()),
        }
    }

    /// The log's path relative to the run folder, for messages:
    /// `jobs/<job>/guest.log`, `jobs/<job>/artifacts/guest.log`.
    pub fn relative(self, job: &JobId, file: LogFile) -> String {
        format!("{JOBS_DIR}/{job}/{}", self.file_name(file))
    }
}

/// A pikaci state root:
///
/// ```text
/// <root>/runs/<run_id>/run.json
/// <root>/runs/<run_id>/jobs/<job_id>/host.log
/// <root>/runs/<run_id>/jobs/<job_id>/guest.log
/// <root>/runs/<run_id>/jobs/<job_id>/guest.log.ts   (and host.log.ts: optional)
/// <root>/runs/<run_id>/jobs/<job_id>/artifacts/guest.log   (the earlier pikaci's; read only)
/// <root>/runs/<run_id>/snapshot.manifest   (the kept snapshot: optional)
/// <root>/runs/<run_id>/snapshot/            (while the run's jobs run; kept by earlier releases)
/// <root>/objects/<2 hex>/<62 hex>           (file contents kept snapshots share)
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

    /// `<root>/runs/<run_id>/prepared-outputs.json`.
    pub fn prepared_outputs(&self, run: &RunId) -> Utf8PathBuf {
        self.run_dir(run).join(PREPARED_OUTPUTS_JSON)
    }

    /// `<root>/runs/<run_id>/jobs`.
    pub fn jobs_dir(&self, run: &RunId) -> Utf8PathBuf {
        self.run_dir(run).join(JOBS_DIR)
    }

    /// `<root>/runs/<run_id>/jobs/<job_id>`.
    pub fn job_dir(&self, run: &RunId, job: &JobId) -> Utf8PathBuf {
        self.jobs_dir(run).join(job.as_str())
    }

    /// `<root>/runs/<run_id>/jobs/<job_id>/host.log` or `guest.log`: where
    /// this pikaci writes a job's log.
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

    /// The folder at `place` inside the job's folder, when the place has one
    /// (`<root>/runs/<run_id>/jobs/<job_id>/artifacts`).
    pub fn job_log_folder(&self, run: &RunId, job: &JobId, place: LogPlace) -> Option<Utf8PathBuf> {
        place
            .subfolder()
            .map(|sub| self.job_dir(run, job).join(sub))
    }

    /// A job's log at `place`: [`StateRoot::job_log`] for
    /// [`LogPlace::JobFolder`], `<root>/runs/<run_id>/jobs/<job_id>/artifacts/guest.log`
    /// for [`LogPlace::Artifacts`].
    pub fn job_log_at(
        &self,
        run: &RunId,
        job: &JobId,
        file: LogFile,
        place: LogPlace,
    ) -> Utf8PathBuf {
        match self.job_log_folder(run, job, place) {
            None => self.job_log(run, job, file),
            Some(folder) => folder.join(file.file_name()),
        }
    }

    /// `<root>/runs/<run_id>/snapshot`.
    pub fn snapshot_dir(&self, run: &RunId) -> Utf8PathBuf {
        self.run_dir(run).join(SNAPSHOT_DIR)
    }

    /// `<root>/runs/<run_id>/snapshot.manifest`.
    pub fn snapshot_manifest(&self, run: &RunId) -> Utf8PathBuf {
        self.run_dir(run).join(SNAPSHOT_MANIFEST)
    }

    /// `<root>/objects`.
    pub fn objects_dir(&self) -> Utf8PathBuf {
        self.root.join(OBJECTS_DIR)
    }

    /// Where run `run` keeps its snapshot: its manifest and the objects folder.
    pub fn kept_layout(&self, run: &RunId) -> pikaci_core::snapshot::kept::KeptLayout {
        pikaci_core::snapshot::kept::KeptLayout {
            objects: self.objects_dir(),
            manifest: self.snapshot_manifest(run),
            leftover: Some(self.snapshot_dir(run)),
        }
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

    #[test]
    fn the_earlier_guest_log_place_is_derived_from_the_layout() {
        let root = StateRoot::new("/s");
        let run: RunId = "pikaci-run-123".parse().unwrap();
        let job: JobId = "check".parse().unwrap();
        assert_eq!(
            LogPlace::search_order(LogFile::Guest),
            [LogPlace::JobFolder, LogPlace::Artifacts]
        );
        assert_eq!(LogPlace::search_order(LogFile::Host), [LogPlace::JobFolder]);
        assert_eq!(
            root.job_log_at(&run, &job, LogFile::Guest, LogPlace::Artifacts),
            "/s/runs/pikaci-run-123/jobs/check/artifacts/guest.log"
        );
        assert_eq!(
            root.job_log_at(&run, &job, LogFile::Guest, LogPlace::JobFolder),
            root.job_log(&run, &job, LogFile::Guest)
        );
        assert_eq!(
            LogPlace::Artifacts.relative(&job, LogFile::Guest),
            "jobs/check/artifacts/guest.log"
        );
        assert_eq!(
            LogPlace::JobFolder.relative(&job, LogFile::Host),
            "jobs/check/host.log"
        );
    }
}

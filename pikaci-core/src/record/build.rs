//! Building a run's records as it goes, and folding its jobs into how the
//! run ended.

use camino::Utf8PathBuf;
use jiff::Timestamp;

use super::model::{JobRecord, RunRecord};
use super::outcome::JobOutcome;
use crate::ids::RunId;
use crate::pipeline::JobSpec;
use crate::status::{FailureKind, LogFile, RunStatus};

impl RunRecord {
    /// The first record of a run: `running` since `created_at`, no job
    /// started yet, everything optional left empty for the caller to fill.
    pub fn begin(
        run_id: RunId,
        created_at: Timestamp,
        source_root: Utf8PathBuf,
        snapshot_dir: Utf8PathBuf,
    ) -> Self {
        Self {
            run_id,
            status: RunStatus::Running,
            rerun_of: None,
            target_id: None,
            target_description: None,
            source_root,
            snapshot_dir,
            git_head: None,
            git_dirty: None,
            git_branch: None,
            created_at,
            finished_at: None,
            changed_files: Vec::new(),
            filters: Vec::new(),
            message: None,
            failure_kind: None,
            cancel_reason: None,
            planned_jobs: Vec::new(),
            job_needs: Default::default(),
            owner: None,
            snapshot_of: None,
            snapshot_warning: None,
            jobs: Vec::new(),
            extra: Default::default(),
        }
    }

    /// Ends a run that could not start its jobs (its source could not be
    /// snapshotted): failed, as infrastructure, saying why.
    pub fn fail_to_start(&mut self, message: impl Into<String>, at: Timestamp) {
        self.status = RunStatus::Failed;
        self.failure_kind = Some(FailureKind::Infrastructure);
        self.finished_at = Some(at);
        self.message = Some(message.into());
    }

    /// Ends the run from its jobs. It passed when every job passed and it
    /// was not cancelled; otherwise it failed (as `cancelled` when it was,
    /// the message ending with `cancel_reason` when one was set).
    /// The message counts the jobs that passed, names those that failed
    /// (with the kind of failure when it is not a test failure), and says
    /// when the run was cancelled: `1 of 3 jobs passed; failed: a, b (timeout)`.
    pub fn finish(&mut self, cancelled: bool, at: Timestamp) {
        let passed = self
            .jobs
            .iter()
            .filter(|j| j.status == RunStatus::Passed)
            .count();
        let failed: Vec<String> = self
            .jobs
            .iter()
            .filter(|j| j.status == RunStatus::Failed)
            .map(|j| match j.failure_kind {
                Some(k) if k != FailureKind::TestFailure => format!("{} ({k})", j.id),
                _ => j.id.to_string(),
            })
            .collect();
        let total = self.jobs.len();
        self.status = if passed == total && !cancelled {
            RunStatus::Passed
        } else {
            RunStatus::Failed
        };
        self.failure_kind = cancelled.then_some(FailureKind::Cancelled);
        if !cancelled {
            self.cancel_reason = None;
        }
        self.finished_at = Some(at);
        let mut message = format!("{passed} of {total} jobs passed");
        if !failed.is_empty() {
            message.push_str(&format!("; failed: {}", failed.join(", ")));
        }
        if cancelled {
            message.push_str("; the run was cancelled");
            if let Some(reason) = &self.cancel_reason {
                message.push_str(&format!(": {reason}"));
            }
        }
        self.message = Some(message);
    }
}

impl JobRecord {
    /// The record of a job that starts at `started_at`: `running`, its logs
    /// where `log_path` says the layout keeps them.
    pub fn begin(
        spec: &JobSpec,
        started_at: Timestamp,
        log_path: impl Fn(LogFile) -> Utf8PathBuf,
    ) -> Self {
        Self {
            id: spec.id.clone(),
            description: spec.description.clone(),
            status: RunStatus::Running,
            executor: spec.executor.clone(),
            timeout_secs: spec.timeout_secs,
            host_log_path: log_path(LogFile::Host),
            guest_log_path: log_path(LogFile::Guest),
            started_at,
            finished_at: None,
            exit_code: None,
            message: None,
            failure_kind: None,
            remote_linux_vm_execution: None,
            log_truncated: false,
            extra: Default::default(),
        }
    }

    /// The record of a job that will not run: skipped at `at`, saying why.
    pub fn skipped(
        spec: &JobSpec,
        at: Timestamp,
        log_path: impl Fn(LogFile) -> Utf8PathBuf,
        message: impl Into<String>,
        failure_kind: Option<FailureKind>,
    ) -> Self {
        Self {
            status: RunStatus::Skipped,
            finished_at: Some(at),
            message: Some(message.into()),
            failure_kind,
            ..Self::begin(spec, at, log_path)
        }
    }

    /// Takes in how the job ended, at `at`.
    pub fn finish(&mut self, outcome: JobOutcome, at: Timestamp) {
        self.status = outcome.status;
        self.exit_code = outcome.exit_code;
        self.message = outcome.message;
        self.failure_kind = outcome.failure_kind;
        self.remote_linux_vm_execution = outcome.remote_linux_vm_execution;
        self.finished_at = Some(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> JobSpec {
        JobSpec {
            description: "cargo build".into(),
            timeout_secs: 9,
            ..JobSpec::for_test("build", "x")
        }
    }

    fn paths(file: LogFile) -> Utf8PathBuf {
        format!("/state/jobs/build/{}", file.file_name()).into()
    }

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn job(id: &str, status: RunStatus, kind: Option<FailureKind>) -> JobRecord {
        JobRecord {
            status,
            failure_kind: kind,
            ..JobRecord::for_test(id, t(0))
        }
    }

    fn run_with(jobs: Vec<JobRecord>) -> RunRecord {
        RunRecord {
            jobs,
            ..RunRecord::begin(
                "20260324T161238Z-1a2b3c4d".parse().unwrap(),
                t(0),
                "/src".into(),
                "/snap".into(),
            )
        }
    }

    #[test]
    fn a_job_begins_running_and_takes_in_its_outcome() {
        let mut rec = JobRecord::begin(&spec(), t(1), paths);
        assert_eq!(rec.status, RunStatus::Running);
        assert_eq!(
            (rec.description.as_str(), rec.timeout_secs),
            ("cargo build", 9)
        );
        assert_eq!(rec.host_log_path, "/state/jobs/build/host.log");
        assert_eq!(rec.guest_log_path, "/state/jobs/build/guest.log");
        assert_eq!((rec.started_at, rec.finished_at), (t(1), None));
        rec.finish(
            JobOutcome::failed(FailureKind::Timeout, None, "timed out"),
            t(5),
        );
        assert_eq!(rec.status, RunStatus::Failed);
        assert_eq!(rec.failure_kind, Some(FailureKind::Timeout));
        assert_eq!(rec.message.as_deref(), Some("timed out"));
        assert_eq!(rec.finished_at, Some(t(5)));
    }

    #[test]
    fn a_skipped_job_starts_and_ends_at_once() {
        let rec = JobRecord::skipped(
            &spec(),
            t(2),
            paths,
            "skipped: the run was cancelled before it started",
            Some(FailureKind::Cancelled),
        );
        assert_eq!(rec.status, RunStatus::Skipped);
        assert_eq!((rec.started_at, rec.finished_at), (t(2), Some(t(2))));
        assert_eq!(rec.failure_kind, Some(FailureKind::Cancelled));
        assert_eq!(rec.exit_code, None);
    }

    #[test]
    fn a_run_passes_only_when_every_job_passed() {
        let mut run = run_with(vec![
            job("a", RunStatus::Passed, None),
            job("b", RunStatus::Passed, None),
        ]);
        run.finish(false, t(9));
        assert_eq!(run.status, RunStatus::Passed);
        assert_eq!(run.failure_kind, None);
        assert_eq!(run.finished_at, Some(t(9)));
        assert_eq!(run.message.as_deref(), Some("2 of 2 jobs passed"));

        let mut run = run_with(vec![
            job("a", RunStatus::Failed, Some(FailureKind::TestFailure)),
            job("b", RunStatus::Failed, Some(FailureKind::Timeout)),
            job("c", RunStatus::Skipped, None),
            job("d", RunStatus::Passed, None),
        ]);
        run.finish(false, t(9));
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.failure_kind, None);
        assert_eq!(
            run.message.as_deref(),
            Some("1 of 4 jobs passed; failed: a, b (timeout)")
        );
    }

    #[test]
    fn a_cancelled_run_fails_as_cancelled_even_if_its_jobs_passed() {
        let mut run = run_with(vec![job("a", RunStatus::Passed, None)]);
        run.finish(true, t(3));
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.failure_kind, Some(FailureKind::Cancelled));
        assert_eq!(
            run.message.as_deref(),
            Some("1 of 1 jobs passed; the run was cancelled")
        );
    }

    #[test]
    fn a_run_that_cannot_start_fails_as_infrastructure() {
        let mut run = run_with(Vec::new());
        assert_eq!(run.status, RunStatus::Running);
        run.fail_to_start("could not snapshot the source: disk full", t(1));
        assert_eq!(run.status, RunStatus::Failed);
        assert_eq!(run.failure_kind, Some(FailureKind::Infrastructure));
        assert_eq!(run.finished_at, Some(t(1)));
    }
}

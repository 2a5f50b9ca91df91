//! What a rerun of a recorded run runs: which jobs ([`RunRecord::rerun_jobs`])
//! and in whose kept snapshot ([`RunRecord::snapshot_owner`]).

use super::model::RunRecord;
use crate::ids::{JobId, RunId};
use crate::status::RunStatus;

/// Which of a run's jobs a rerun runs again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RerunScope {
    /// Every job the run recorded.
    All,
    /// Only the jobs that did not pass (failed, skipped, interrupted).
    NotPassed,
}

impl RunRecord {
    /// The jobs a rerun of this run runs, in the record's order: those of
    /// its jobs `scope` selects; a run that recorded no job at all (it died
    /// before its first one started) runs its planned jobs again, whatever
    /// the scope. Empty when there is nothing to run again.
    pub fn rerun_jobs(&self, scope: RerunScope) -> Vec<JobId> {
        if self.jobs.is_empty() {
            return self.planned_jobs.clone();
        }
        self.jobs
            .iter()
            .filter(|j| scope == RerunScope::All || j.status != RunStatus::Passed)
            .map(|j| j.id.clone())
            .collect()
    }

    /// The run whose kept snapshot a rerun of this run runs in: the one this
    /// run ran in itself (a rerun of a rerun runs where that one ran), taken
    /// from the run it names, never from a path in the record.
    pub fn snapshot_owner(&self) -> &RunId {
        self.snapshot_of.as_ref().unwrap_or(&self.run_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::JobRecord;

    fn ids(jobs: &[JobId]) -> Vec<&str> {
        jobs.iter().map(JobId::as_str).collect()
    }

    #[test]
    fn a_rerun_runs_every_job_or_those_that_did_not_pass() {
        let mut run = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        let at = run.created_at;
        let mut failed = JobRecord::for_test("test", at);
        failed.status = RunStatus::Failed;
        let mut skipped = JobRecord::for_test("deploy", at);
        skipped.status = RunStatus::Skipped;
        run.jobs.extend([failed, skipped]);
        assert_eq!(
            ids(&run.rerun_jobs(RerunScope::All)),
            ["build", "test", "deploy"]
        );
        assert_eq!(
            ids(&run.rerun_jobs(RerunScope::NotPassed)),
            ["test", "deploy"]
        );
        run.jobs.truncate(1);
        assert!(run.rerun_jobs(RerunScope::NotPassed).is_empty());
    }

    #[test]
    fn a_run_that_recorded_no_job_runs_its_plan_again() {
        let mut run = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        run.jobs.clear();
        run.planned_jobs = vec!["a".parse().unwrap(), "b".parse().unwrap()];
        for scope in [RerunScope::All, RerunScope::NotPassed] {
            assert_eq!(ids(&run.rerun_jobs(scope)), ["a", "b"]);
        }
    }

    #[test]
    fn a_rerun_of_a_rerun_runs_in_the_snapshot_its_original_kept() {
        let mut run = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        assert_eq!(run.snapshot_owner(), &run.run_id);
        let original: RunId = "20260324T100000Z-00000001".parse().unwrap();
        run.snapshot_of = Some(original.clone());
        assert_eq!(run.snapshot_owner(), &original);
    }
}

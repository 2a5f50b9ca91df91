//! Why a run failed, in one line from its record: the jobs that failed and
//! how (`failed: test (exit 101)`), so whoever shows a failed run (a lane's
//! message, a page) says what pikaci saw instead of "a job failed".

use super::model::{JobRecord, RunRecord};
use crate::status::{FailureKind, RunStatus};

/// How many failed jobs the line names before it only counts the rest.
const NAMED_JOBS: usize = 3;

impl RunRecord {
    /// `failed: test (exit 101), lint (exit 1)`, `cancelled: <reason>`,
    /// `interrupted`...; `None` unless the run failed.
    pub fn why_failed(&self) -> Option<String> {
        if self.status != RunStatus::Failed {
            return None;
        }
        if self.failure_kind == Some(FailureKind::Cancelled) {
            return Some(match &self.cancel_reason {
                Some(r) => format!("cancelled: {r}"),
                None => "cancelled".to_owned(),
            });
        }
        let failed: Vec<&JobRecord> = self
            .jobs
            .iter()
            .filter(|j| j.status == RunStatus::Failed)
            .collect();
        if failed.is_empty() {
            // The run failed as a whole (it could not start its jobs, or
            // its process died): its own message says why.
            let kind = self.failure_kind.map_or("failed", FailureKind::as_str);
            return Some(match &self.message {
                Some(m) => format!("{kind}: {m}"),
                None => kind.to_owned(),
            });
        }
        let mut named: Vec<String> = failed
            .iter()
            .take(NAMED_JOBS)
            .map(|j| j.how_failed())
            .collect();
        if failed.len() > NAMED_JOBS {
            named.push(format!("{} more", failed.len() - NAMED_JOBS));
        }
        Some(format!("failed: {}", named.join(", ")))
    }
}

impl JobRecord {
    /// `test (exit 101)`, `test (timed out after 600s)`, `test (killed by
    /// a signal)`: the job and how it ended.
    pub fn how_failed(&self) -> String {
        let how = match (self.failure_kind, self.exit_code) {
            (Some(FailureKind::Timeout), _) => format!("timed out after {}s", self.timeout_secs),
            (Some(FailureKind::Cancelled), _) => "cancelled".to_owned(),
            (Some(FailureKind::Interrupted), _) => "interrupted".to_owned(),
            (Some(FailureKind::Infrastructure), _) => "infrastructure".to_owned(),
            (_, Some(code)) => format!("exit {code}"),
            (_, None)
                if self
                    .message
                    .as_deref()
                    .is_some_and(|m| m.contains("signal")) =>
            {
                "killed by a signal".to_owned()
            }
            (_, None) => "failed".to_owned(),
        };
        format!("{} ({how})", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, kind: Option<FailureKind>, exit: Option<i32>, message: &str) -> JobRecord {
        let mut j = JobRecord::for_test(id, "2026-03-24T16:00:00Z".parse().unwrap());
        j.status = RunStatus::Failed;
        j.failure_kind = kind;
        j.exit_code = exit;
        j.message = Some(message.to_owned());
        j
    }

    fn failed(jobs: Vec<JobRecord>) -> RunRecord {
        let mut r = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        r.status = RunStatus::Failed;
        r.jobs = jobs;
        r
    }

    #[test]
    fn a_failed_run_names_its_failed_jobs_and_how_they_ended() {
        let t = Some(FailureKind::TestFailure);
        let r = failed(vec![
            JobRecord::for_test("fmt", "2026-03-24T16:00:00Z".parse().unwrap()),
            job("test", t, Some(101), "command exited with 101"),
            job("soak", Some(FailureKind::Timeout), None, "timed out"),
            job("fuzz", t, None, "command was killed by a signal"),
        ]);
        assert_eq!(
            r.why_failed().as_deref(),
            Some("failed: test (exit 101), soak (timed out after 60s), fuzz (killed by a signal)")
        );
        let mut many = r.clone();
        many.jobs
            .push(job("lint", t, Some(1), "command exited with 1"));
        assert_eq!(
            many.why_failed().as_deref(),
            Some(
                "failed: test (exit 101), soak (timed out after 60s), fuzz (killed by a signal), 1 more"
            )
        );
    }

    #[test]
    fn a_cancelled_or_unstarted_run_says_so_and_a_passed_one_says_nothing() {
        let mut r = failed(vec![]);
        r.failure_kind = Some(FailureKind::Cancelled);
        r.cancel_reason = Some("interrupted (SIGINT, Ctrl-C)".into());
        assert_eq!(
            r.why_failed().as_deref(),
            Some("cancelled: interrupted (SIGINT, Ctrl-C)")
        );
        let mut r = failed(vec![]);
        r.failure_kind = Some(FailureKind::Infrastructure);
        r.message = Some("could not snapshot the source".into());
        assert_eq!(
            r.why_failed().as_deref(),
            Some("infrastructure: could not snapshot the source")
        );
        assert_eq!(
            RunRecord::for_test("20260324T161238Z-1a2b3c4d").why_failed(),
            None
        );
    }
}

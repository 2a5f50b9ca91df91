//! Which job of a run a reader gets when it names none: one rule per kind
//! of reader, all of them here, so the API, the pages and `pikaci logs`
//! never choose differently by accident.

use super::model::RunRecord;
use crate::ids::JobId;
use crate::status::RunStatus;

/// Who reads a run's job without naming one. Each gets its own rule, for a
/// reason (see each variant); every place that picks a default job picks it
/// through [`RunRecord::default_job`] with one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobReader {
    /// A program (the JSON API and every log route, whose default the
    /// design fixes): the first job in the record, else the first planned
    /// one. A stable answer: the same address names the same job however
    /// the run goes on, so a client reading a log in pieces stays in one log.
    Api,
    /// A person at a terminal (`pikaci logs`): the first job that failed,
    /// which is what they came to read, else the [`Api`](Self::Api) one.
    Terminal,
    /// A person watching the lane page, which follows a live run: a running
    /// job (what is happening now), else a failed one, else the
    /// [`Api`](Self::Api) one once it has started. `None` while no job has
    /// started: the page then shows the lane's own log, not an empty job.
    Page,
}

impl RunRecord {
    /// The job `reader` gets when it names none (see [`JobReader`]);
    /// `None` when the run has none to give.
    pub fn default_job(&self, reader: JobReader) -> Option<&JobId> {
        let with = |status| self.jobs.iter().find(|j| j.status == status).map(|j| &j.id);
        let first = || {
            self.jobs
                .first()
                .map(|j| &j.id)
                .or_else(|| self.planned_jobs.first())
        };
        match reader {
            JobReader::Api => first(),
            JobReader::Terminal => with(RunStatus::Failed).or_else(first),
            JobReader::Page => with(RunStatus::Running)
                .or_else(|| with(RunStatus::Failed))
                .or_else(|| first().filter(|id| self.job(id).is_some())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::JobRecord;

    fn run(jobs: &[(&str, RunStatus)], planned: &[&str]) -> RunRecord {
        let mut r = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        r.jobs = jobs
            .iter()
            .map(|(id, status)| JobRecord {
                status: *status,
                ..JobRecord::for_test(id, r.created_at)
            })
            .collect();
        r.planned_jobs = planned.iter().map(|p| p.parse().unwrap()).collect();
        r
    }

    fn pick(r: &RunRecord, reader: JobReader) -> Option<&str> {
        r.default_job(reader).map(JobId::as_str)
    }

    #[test]
    fn a_program_gets_the_first_job_then_the_first_planned() {
        let r = run(
            &[("b", RunStatus::Passed), ("a", RunStatus::Failed)],
            &["c", "b", "a"],
        );
        assert_eq!(pick(&r, JobReader::Api), Some("b"));
        assert_eq!(pick(&run(&[], &["c", "d"]), JobReader::Api), Some("c"));
        assert_eq!(pick(&run(&[], &[]), JobReader::Api), None);
    }

    #[test]
    fn a_terminal_gets_the_first_failed_job_then_the_first() {
        let r = run(
            &[
                ("a", RunStatus::Passed),
                ("b", RunStatus::Running),
                ("c", RunStatus::Failed),
                ("d", RunStatus::Failed),
            ],
            &[],
        );
        assert_eq!(pick(&r, JobReader::Terminal), Some("c"));
        let r = run(&[("a", RunStatus::Passed)], &["z"]);
        assert_eq!(pick(&r, JobReader::Terminal), Some("a"));
        assert_eq!(pick(&run(&[], &["p"]), JobReader::Terminal), Some("p"));
    }

    #[test]
    fn the_page_gets_a_running_then_a_failed_then_the_first_started_job() {
        let all = [
            ("a", RunStatus::Passed),
            ("b", RunStatus::Failed),
            ("c", RunStatus::Running),
        ];
        assert_eq!(pick(&run(&all, &[]), JobReader::Page), Some("c"));
        assert_eq!(pick(&run(&all[..2], &[]), JobReader::Page), Some("b"));
        let r = run(
            &[("a", RunStatus::Passed), ("b", RunStatus::Passed)],
            &["a", "b"],
        );
        assert_eq!(pick(&r, JobReader::Page), Some("a"));
        // Planned but not started: no job (the lane's own log is shown).
        assert_eq!(pick(&run(&[], &["a"]), JobReader::Page), None);
    }
}

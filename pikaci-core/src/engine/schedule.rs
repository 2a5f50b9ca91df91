//! [`Schedule`]: a run's needs graph as a state machine, free of futures,
//! processes and time.

use crate::ids::JobId;
use crate::pipeline::JobSpec;
use crate::status::RunStatus;

/// What the engine is to do with a job now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Start the job.
    Start(JobId),
    /// Skip the job: `blocker`, one of the jobs it needs, did not pass.
    Skip {
        /// The job to skip.
        job: JobId,
        /// The first of its needs that did not pass.
        blocker: JobId,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Running,
    Done(RunStatus),
}

/// The state of every selected job of a run, and what to do next.
///
/// The engine asks [`advance`](Self::advance) what to do, starts and skips
/// what it is told, and reports each job's end with
/// [`finish`](Self::finish). A job starts once every job it needs (within
/// the run's selection: needs outside it do not hold a job back) has passed,
/// and is skipped as soon as one of them ended any other way. At most
/// `parallelism` jobs run at once; jobs are considered in pipeline order.
#[derive(Debug, Clone)]
pub struct Schedule {
    ids: Vec<JobId>,
    /// Per job, the indices of the jobs it needs, in the order it names them.
    needs: Vec<Vec<usize>>,
    state: Vec<State>,
    /// How many of `state` are `Running` (kept, not counted: `advance` asks
    /// for every job it looks at).
    running: usize,
    parallelism: usize,
}

impl Schedule {
    /// A schedule of `jobs` (in pipeline order), of which at most
    /// `parallelism` (at least 1) run at once.
    pub fn new(jobs: &[JobSpec], parallelism: usize) -> Self {
        let ids: Vec<JobId> = jobs.iter().map(|j| j.id.clone()).collect();
        let needs = jobs
            .iter()
            .map(|j| {
                j.needs
                    .iter()
                    .filter_map(|n| ids.iter().position(|id| id == n))
                    .collect()
            })
            .collect();
        Self {
            state: vec![State::Pending; ids.len()],
            running: 0,
            ids,
            needs,
            parallelism: parallelism.max(1),
        }
    }

    /// What to do now, in pipeline order: the jobs to skip because a need did
    /// not pass, and the jobs to start because all their needs passed, until
    /// `parallelism` jobs are running. Jobs to start count as running from
    /// here on; skipped jobs as done.
    pub fn advance(&mut self) -> Vec<Decision> {
        let mut decisions = Vec::new();
        for i in 0..self.ids.len() {
            if self.running() >= self.parallelism {
                break;
            }
            if self.state[i] != State::Pending {
                continue;
            }
            let blocker = self.needs[i]
                .iter()
                .find(|&&n| matches!(self.state[n], State::Done(s) if s != RunStatus::Passed));
            if let Some(&blocker) = blocker {
                self.state[i] = State::Done(RunStatus::Skipped);
                decisions.push(Decision::Skip {
                    job: self.ids[i].clone(),
                    blocker: self.ids[blocker].clone(),
                });
                continue;
            }
            if self.needs[i]
                .iter()
                .all(|&n| self.state[n] == State::Done(RunStatus::Passed))
            {
                self.state[i] = State::Running;
                self.running += 1;
                decisions.push(Decision::Start(self.ids[i].clone()));
            }
        }
        decisions
    }

    /// Records that a running job ended with `status`.
    pub fn finish(&mut self, job: &JobId, status: RunStatus) {
        if let Some(i) = self.ids.iter().position(|id| id == job) {
            if self.state[i] == State::Running {
                self.running -= 1;
            }
            self.state[i] = State::Done(status);
        }
    }

    /// How many jobs are running.
    pub fn running(&self) -> usize {
        self.running
    }

    /// The jobs neither started nor skipped yet, in pipeline order (once the
    /// run is over: those it never got to, because it was cancelled).
    pub fn unstarted(&self) -> Vec<JobId> {
        self.ids
            .iter()
            .zip(&self.state)
            .filter(|(_, s)| **s == State::Pending)
            .map(|(id, _)| id.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use camino::Utf8Path;

    use super::*;
    use crate::pipeline::Pipeline;

    /// `a`; `b` needs `a`; `c`; `d` needs `b` and `c`.
    const DIAMOND: &str = "[[job]]\nid = \"a\"\ncommand = \"x\"\n\
        [[job]]\nid = \"b\"\ncommand = \"x\"\nneeds = [\"a\"]\n\
        [[job]]\nid = \"c\"\ncommand = \"x\"\n\
        [[job]]\nid = \"d\"\ncommand = \"x\"\nneeds = [\"b\", \"c\"]\n";

    fn jobs(text: &str) -> Vec<JobSpec> {
        Pipeline::parse(text, Utf8Path::new("pikaci.toml"))
            .unwrap()
            .jobs
    }

    fn id(s: &str) -> JobId {
        s.parse().unwrap()
    }

    fn start(s: &str) -> Decision {
        Decision::Start(id(s))
    }

    fn skip(job: &str, blocker: &str) -> Decision {
        Decision::Skip {
            job: id(job),
            blocker: id(blocker),
        }
    }

    #[test]
    fn jobs_without_needs_are_ready_up_to_the_parallelism() {
        let mut one = Schedule::new(&jobs(DIAMOND), 1);
        assert_eq!(one.advance(), [start("a")]);
        assert_eq!(one.advance(), [], "nothing more while a runs");
        assert_eq!(one.running(), 1);

        let mut two = Schedule::new(&jobs(DIAMOND), 2);
        assert_eq!(two.advance(), [start("a"), start("c")]);
        // A parallelism of 0 means 1.
        assert_eq!(Schedule::new(&jobs(DIAMOND), 0).advance(), [start("a")]);
    }

    #[test]
    fn a_passed_need_makes_its_dependents_ready() {
        let mut s = Schedule::new(&jobs(DIAMOND), 4);
        assert_eq!(s.advance(), [start("a"), start("c")]);
        s.finish(&id("a"), RunStatus::Passed);
        assert_eq!(s.advance(), [start("b")]);
        s.finish(&id("c"), RunStatus::Passed);
        assert_eq!(s.advance(), [], "d still waits for b");
        s.finish(&id("b"), RunStatus::Passed);
        assert_eq!(s.advance(), [start("d")]);
        s.finish(&id("d"), RunStatus::Passed);
        assert_eq!(s.advance(), []);
        assert_eq!((s.running(), s.unstarted()), (0, vec![]));
    }

    #[test]
    fn a_failed_need_skips_its_dependents_and_theirs_in_one_step() {
        let mut s = Schedule::new(&jobs(DIAMOND), 4);
        assert_eq!(s.advance(), [start("a"), start("c")]);
        s.finish(&id("a"), RunStatus::Failed);
        assert_eq!(s.advance(), [skip("b", "a"), skip("d", "b")]);
        s.finish(&id("c"), RunStatus::Passed);
        assert_eq!(s.advance(), []);
        assert!(s.unstarted().is_empty());
    }

    #[test]
    fn a_job_is_skipped_as_soon_as_any_need_fails_even_while_others_run() {
        let mut s = Schedule::new(&jobs(DIAMOND), 4);
        s.advance();
        s.finish(&id("c"), RunStatus::Failed);
        // d needs b (not started yet) and c (failed): skipped now, blamed on c.
        assert_eq!(s.advance(), [skip("d", "c")]);
        s.finish(&id("a"), RunStatus::Passed);
        assert_eq!(s.advance(), [start("b")]);
    }

    #[test]
    fn needs_outside_the_selection_do_not_hold_a_job_back() {
        let only_d: Vec<JobSpec> = jobs(DIAMOND)
            .into_iter()
            .filter(|j| j.id.as_str() == "d")
            .collect();
        let mut s = Schedule::new(&only_d, 1);
        assert_eq!(s.advance(), [start("d")]);
    }

    #[test]
    fn a_full_schedule_considers_nothing_else() {
        // With one slot taken, even a job that could be skipped waits.
        let mut s = Schedule::new(&jobs(DIAMOND), 1);
        assert_eq!(s.advance(), [start("a")]);
        s.finish(&id("a"), RunStatus::Failed);
        assert_eq!(s.advance(), [skip("b", "a"), start("c")]);
        assert_eq!(s.unstarted(), [id("d")]);
        s.finish(&id("c"), RunStatus::Passed);
        assert_eq!(s.advance(), [skip("d", "b")]);
    }

    #[test]
    fn unstarted_jobs_are_what_a_cancelled_run_never_reached() {
        let mut s = Schedule::new(&jobs(DIAMOND), 1);
        assert_eq!(s.advance(), [start("a")]);
        s.finish(&id("a"), RunStatus::Failed);
        // The engine stops advancing once the run is cancelled.
        assert_eq!(s.unstarted(), [id("b"), id("c"), id("d")]);
    }
}

//! [`JobDir`]: one job of a run, chosen by the one default-job rule.

use pikaci_core::{JobId, JobReader, RunRecord};

use crate::error::StoreError;
use crate::fs::{DiskFs, Fs};
use crate::read::run_dir::RunDir;

/// A job of a run: in its record (run or planned) or with a folder of logs.
/// Made by [`RunDir::job`]; its logs are [`JobDir::log`].
#[derive(Clone)]
pub struct JobDir<F = DiskFs> {
    run: RunDir<F>,
    job: JobId,
    /// Whether the job's folder existed (and was a real folder) when checked.
    present: bool,
}

impl<F> std::fmt::Debug for JobDir<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobDir")
            .field("run", &self.run)
            .field("job", &self.job)
            .finish_non_exhaustive()
    }
}

impl<F: Fs + Clone> RunDir<F> {
    /// Job `job` of this run, or with `None` the run's default job for a
    /// program ([`JobReader::Api`]: the first job in the record, else the
    /// first planned one). A reader with another rule (`pikaci logs`, the
    /// lane page) names the job it chose by [`RunRecord::default_job`].
    ///
    /// A named job must be in the record (run or planned) or have a folder;
    /// otherwise [`StoreError::JobNotFound`]. A run with no jobs at all and no
    /// job named is [`StoreError::InvalidInput`]. A job folder that is a link
    /// is [`StoreError::Corrupt`].
    pub fn job(&self, job: Option<&JobId>) -> Result<JobDir<F>, StoreError> {
        self.job_of(&self.record()?, job)
    }

    /// [`RunDir::job`] by a record of this run the caller already has (a
    /// cached one, a reconciled one), instead of reading `run.json` again.
    /// A record of another run is [`StoreError::InvalidInput`].
    pub fn job_of(&self, record: &RunRecord, job: Option<&JobId>) -> Result<JobDir<F>, StoreError> {
        if &record.run_id != self.id() {
            return Err(StoreError::InvalidInput {
                message: format!(
                    "the record of run {} does not describe run {}",
                    record.run_id,
                    self.id()
                ),
            });
        }
        let job = match job {
            Some(job) => job.clone(),
            None => record.default_job(JobReader::Api).cloned().ok_or_else(|| {
                StoreError::InvalidInput {
                    message: format!("run {} has no jobs, so a job must be named", self.id()),
                }
            })?,
        };
        let present = self.job_folder(&job)?;
        let known = record.job(&job).is_some() || record.planned_jobs.contains(&job);
        if !known && !present {
            return Err(StoreError::JobNotFound {
                run: self.id().clone(),
                job,
            });
        }
        Ok(JobDir {
            run: self.clone(),
            job,
            present,
        })
    }
}

impl<F: Fs> JobDir<F> {
    /// The job's id.
    pub fn id(&self) -> &JobId {
        &self.job
    }

    /// The run the job belongs to.
    pub fn run(&self) -> &RunDir<F> {
        &self.run
    }

    /// Whether the job's folder exists now. A folder seen when the handle was
    /// made is not checked again; one not seen yet (a job that has not
    /// started) is looked for again, checked like the first time.
    pub(crate) fn has_folder(&self) -> Result<bool, StoreError> {
        if self.present {
            return Ok(true);
        }
        self.run.job_folder(&self.job)
    }
}

#[cfg(test)]
mod tests {
    use pikaci_core::JobRecord;

    use super::*;
    use crate::fs::MemFs;
    use crate::layout::StateRoot;
    use crate::store::Store;

    fn id(s: &str) -> JobId {
        s.parse().unwrap()
    }

    fn run_with(jobs: &[&str], planned: &[&str]) -> (Store<MemFs>, RunDir<MemFs>) {
        let store = Store::with_fs(MemFs::new(), StateRoot::new("/s"));
        let mut r = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        r.jobs = jobs
            .iter()
            .map(|j| JobRecord::for_test(j, r.created_at))
            .collect();
        r.planned_jobs = planned.iter().map(|j| id(j)).collect();
        store.persist_run_record(&r).unwrap();
        let dir = store.run(&r.run_id).unwrap();
        (store, dir)
    }

    #[test]
    fn the_default_job_is_the_first_run_then_the_first_planned() {
        let (_, dir) = run_with(&["b", "a"], &["c", "b", "a"]);
        assert_eq!(dir.job(None).unwrap().id(), &id("b"));
        let (_, dir) = run_with(&[], &["c", "d"]);
        assert_eq!(dir.job(None).unwrap().id(), &id("c"));
        let (_, dir) = run_with(&[], &[]);
        let err = dir.job(None).unwrap_err();
        assert!(err.is_invalid_input(), "{err}");
        assert!(err.to_string().contains("has no jobs"), "{err}");
    }

    #[test]
    fn a_named_job_must_be_recorded_planned_or_have_a_folder() {
        let (store, dir) = run_with(&["a"], &["p"]);
        assert!(dir.job(Some(&id("a"))).is_ok());
        let planned = dir.job(Some(&id("p"))).unwrap();
        assert!(!planned.has_folder().unwrap());
        let err = dir.job(Some(&id("ghost"))).unwrap_err();
        assert!(matches!(err, StoreError::JobNotFound { .. }), "{err}");
        // A job with logs but no record entry (the record was rewritten) is read.
        store
            .fs()
            .create_dir_all(&store.root().job_dir(dir.id(), &id("ghost")))
            .unwrap();
        assert!(dir.job(Some(&id("ghost"))).unwrap().has_folder().unwrap());
    }

    #[test]
    fn a_job_by_a_record_the_caller_has_follows_the_same_rule() {
        let (_, dir) = run_with(&["b", "a"], &[]);
        let record = dir.record().unwrap();
        assert_eq!(dir.job_of(&record, None).unwrap().id(), &id("b"));
        assert_eq!(dir.job_of(&record, Some(&id("a"))).unwrap().id(), &id("a"));
        let err = dir.job_of(&record, Some(&id("ghost"))).unwrap_err();
        assert!(matches!(err, StoreError::JobNotFound { .. }), "{err}");
        let other = RunRecord::for_test("20260324T161238Z-00000000");
        assert!(dir.job_of(&other, None).unwrap_err().is_invalid_input());
    }

    #[test]
    fn a_folder_that_appears_later_is_found_and_a_linked_one_refused() {
        let (store, dir) = run_with(&[], &["p"]);
        let job = dir.job(Some(&id("p"))).unwrap();
        assert!(!job.has_folder().unwrap());
        store
            .fs()
            .symlink(&store.root().job_dir(dir.id(), &id("p")))
            .unwrap();
        assert!(job.has_folder().unwrap_err().is_corrupt());
        assert!(dir.job(Some(&id("p"))).unwrap_err().is_corrupt());
    }
}

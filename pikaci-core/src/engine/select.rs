//! [`JobSelection`]: which jobs a run runs (a target's, the ones named, or
//! all), chosen once from the pipeline.

use crate::ids::{JobId, TargetId};
use crate::pipeline::{JobSpec, Pipeline};

/// Why a selection cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// The target is not in the pipeline.
    #[error("target {target} is not defined in the pipeline (defined: {known})")]
    UnknownTarget {
        /// The target asked for.
        target: TargetId,
        /// The targets that exist, comma-separated.
        known: String,
    },
    /// A job is not in the pipeline.
    #[error("job {job} is not defined in the pipeline (defined: {known})")]
    UnknownJob {
        /// The job asked for.
        job: JobId,
        /// The jobs that exist, comma-separated.
        known: String,
    },
    /// A job was named together with a target that does not contain it.
    #[error("job {job} is not part of target {target}")]
    JobNotInTarget {
        /// The job.
        job: JobId,
        /// The target.
        target: TargetId,
    },
}

fn list<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    let v: Vec<String> = items.map(|i| i.to_string()).collect();
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

/// The jobs one run runs, in pipeline order, with what they were chosen by
/// (recorded in `run.json` as `target_id` and `filters`).
#[derive(Debug, Clone, PartialEq)]
pub struct JobSelection {
    target: Option<TargetId>,
    target_description: Option<String>,
    filters: Vec<JobId>,
    jobs: Vec<JobSpec>,
}

impl JobSelection {
    /// The target's jobs (narrowed to `jobs` when given), else the jobs
    /// named, else every job of `pipeline`.
    ///
    /// ```
    /// use camino::Utf8Path;
    /// use pikaci_core::Pipeline;
    /// use pikaci_core::engine::JobSelection;
    ///
    /// let text = "[[job]]\nid = \"a\"\ncommand = \"true\"\n[[job]]\nid = \"b\"\ncommand = \"true\"\n\
    ///             [[target]]\nid = \"t\"\njobs = [\"b\"]\n";
    /// let pipeline = Pipeline::parse(text, Utf8Path::new("pikaci.toml"))?;
    /// let selection = JobSelection::new(&pipeline, Some("t".parse()?), Vec::new())?;
    /// assert_eq!(selection.jobs().len(), 1);
    /// assert!(JobSelection::new(&pipeline, Some("t".parse()?), vec!["a".parse()?]).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(
        pipeline: &Pipeline,
        target: Option<TargetId>,
        jobs: Vec<JobId>,
    ) -> Result<Self, SelectError> {
        for j in &jobs {
            if pipeline.job(j).is_none() {
                return Err(SelectError::UnknownJob {
                    job: j.clone(),
                    known: list(pipeline.jobs.iter().map(|j| &j.id)),
                });
            }
        }
        let spec = match &target {
            Some(t) => Some(
                pipeline
                    .target(t)
                    .ok_or_else(|| SelectError::UnknownTarget {
                        target: t.clone(),
                        known: list(pipeline.targets.iter().map(|t| &t.id)),
                    })?,
            ),
            None => None,
        };
        let wanted: Vec<&JobId> = match (&target, spec) {
            (Some(t), Some(spec)) => {
                if let Some(j) = jobs.iter().find(|j| !spec.jobs.contains(j)) {
                    return Err(SelectError::JobNotInTarget {
                        job: j.clone(),
                        target: t.clone(),
                    });
                }
                spec.jobs
                    .iter()
                    .filter(|j| jobs.is_empty() || jobs.contains(j))
                    .collect()
            }
            _ if !jobs.is_empty() => jobs.iter().collect(),
            _ => pipeline.jobs.iter().map(|j| &j.id).collect(),
        };
        let selected = pipeline
            .jobs
            .iter()
            .filter(|j| wanted.contains(&&j.id))
            .cloned()
            .collect();
        Ok(Self {
            target_description: spec
                .map(|t| t.description.clone())
                .filter(|d| !d.is_empty()),
            target,
            filters: jobs,
            jobs: selected,
        })
    }

    /// Every job of `pipeline`.
    pub fn all(pipeline: &Pipeline) -> Self {
        Self {
            target: None,
            target_description: None,
            filters: Vec::new(),
            jobs: pipeline.jobs.clone(),
        }
    }

    /// The jobs to run, in pipeline order.
    pub fn jobs(&self) -> &[JobSpec] {
        &self.jobs
    }

    /// The target they were chosen by, if any.
    pub fn target(&self) -> Option<&TargetId> {
        self.target.as_ref()
    }

    /// The target's description, when it has one.
    pub fn target_description(&self) -> Option<&str> {
        self.target_description.as_deref()
    }

    /// The jobs named to narrow the selection (empty: none were).
    pub fn filters(&self) -> &[JobId] {
        &self.filters
    }
}

#[cfg(test)]
mod tests {
    use camino::Utf8Path;

    use super::*;

    fn pipeline() -> Pipeline {
        Pipeline::parse(
            "[[job]]\nid = \"a\"\ncommand = \"true\"\n[[job]]\nid = \"b\"\ncommand = \"true\"\n\
             [[job]]\nid = \"c\"\ncommand = \"true\"\n[[target]]\nid = \"t\"\ndescription = \"the t\"\njobs = [\"c\", \"a\"]\n",
            Utf8Path::new("p.toml"),
        )
        .unwrap()
    }

    fn ids(s: &JobSelection) -> Vec<&str> {
        s.jobs().iter().map(|j| j.id.as_str()).collect()
    }

    fn select(target: Option<&str>, jobs: &[&str]) -> Result<JobSelection, SelectError> {
        JobSelection::new(
            &pipeline(),
            target.map(|t| t.parse().unwrap()),
            jobs.iter().map(|j| j.parse().unwrap()).collect(),
        )
    }

    #[test]
    fn selections() {
        assert_eq!(ids(&select(None, &[]).unwrap()), ["a", "b", "c"]);
        assert_eq!(ids(&JobSelection::all(&pipeline())), ["a", "b", "c"]);
        assert_eq!(ids(&select(Some("t"), &[]).unwrap()), ["a", "c"]);
        assert_eq!(ids(&select(Some("t"), &["a"]).unwrap()), ["a"]);
        assert_eq!(ids(&select(None, &["b"]).unwrap()), ["b"]);
        assert!(matches!(
            select(Some("t"), &["b"]),
            Err(SelectError::JobNotInTarget { .. })
        ));
        let err = select(Some("zz"), &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "target zz is not defined in the pipeline (defined: t)"
        );
        assert!(matches!(
            select(None, &["q"]),
            Err(SelectError::UnknownJob { .. })
        ));
    }

    #[test]
    fn a_selection_remembers_what_chose_it() {
        let s = select(Some("t"), &["c"]).unwrap();
        assert_eq!(s.target().map(TargetId::as_str), Some("t"));
        assert_eq!(s.target_description(), Some("the t"));
        assert_eq!(s.filters(), ["c".parse::<JobId>().unwrap()]);
        let all = JobSelection::all(&pipeline());
        assert_eq!((all.target(), all.filters()), (None, &[][..]));
    }
}

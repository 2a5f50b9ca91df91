//! Which jobs a run runs: a target's, the ones named, or all.

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

/// The jobs to run, in pipeline order: the target's jobs (narrowed to `jobs`
/// when given), else the jobs named, else every job.
pub fn select_jobs(
    pipeline: &Pipeline,
    target: Option<&TargetId>,
    jobs: &[JobId],
) -> Result<Vec<JobSpec>, SelectError> {
    for j in jobs {
        if pipeline.job(j).is_none() {
            return Err(SelectError::UnknownJob {
                job: j.clone(),
                known: list(pipeline.jobs.iter().map(|j| &j.id)),
            });
        }
    }
    let wanted: Vec<&JobId> = match target {
        Some(t) => {
            let spec = pipeline
                .target(t)
                .ok_or_else(|| SelectError::UnknownTarget {
                    target: t.clone(),
                    known: list(pipeline.targets.iter().map(|t| &t.id)),
                })?;
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
        None if !jobs.is_empty() => jobs.iter().collect(),
        None => pipeline.jobs.iter().map(|j| &j.id).collect(),
    };
    Ok(pipeline
        .jobs
        .iter()
        .filter(|j| wanted.contains(&&j.id))
        .cloned()
        .collect())
}

#[cfg(test)]
mod tests {
    use camino::Utf8Path;

    use super::*;

    fn pipeline() -> Pipeline {
        Pipeline::parse(
            "[[job]]\nid = \"a\"\ncommand = \"true\"\n[[job]]\nid = \"b\"\ncommand = \"true\"\n\
             [[job]]\nid = \"c\"\ncommand = \"true\"\n[[target]]\nid = \"t\"\njobs = [\"c\", \"a\"]\n",
            Utf8Path::new("p.toml"),
        )
        .unwrap()
    }

    fn ids(v: &[JobSpec]) -> Vec<&str> {
        v.iter().map(|j| j.id.as_str()).collect()
    }

    #[test]
    fn selections() {
        let p = pipeline();
        let t: TargetId = "t".parse().unwrap();
        let a: JobId = "a".parse().unwrap();
        let b: JobId = "b".parse().unwrap();
        assert_eq!(ids(&select_jobs(&p, None, &[]).unwrap()), ["a", "b", "c"]);
        assert_eq!(ids(&select_jobs(&p, Some(&t), &[]).unwrap()), ["a", "c"]);
        assert_eq!(
            ids(&select_jobs(&p, Some(&t), std::slice::from_ref(&a)).unwrap()),
            ["a"]
        );
        assert_eq!(
            ids(&select_jobs(&p, None, std::slice::from_ref(&b)).unwrap()),
            ["b"]
        );
        assert!(matches!(
            select_jobs(&p, Some(&t), &[b]),
            Err(SelectError::JobNotInTarget { .. })
        ));
        let err = select_jobs(&p, Some(&"zz".parse().unwrap()), &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "target zz is not defined in the pipeline (defined: t)"
        );
        assert!(matches!(
            select_jobs(&p, None, &["q".parse().unwrap()]),
            Err(SelectError::UnknownJob { .. })
        ));
    }
}

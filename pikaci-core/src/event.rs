//! Lifecycle events, printed one per line with `--output jsonl`.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{RunId, TargetId};
use crate::record::{JobRecord, RunRecord};

/// What happened to a run, in order: `run_started`, then per job `job_started`
/// and `job_finished`, then `run_finished`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LifecycleEvent {
    /// The run exists on disk with status `running`.
    RunStarted {
        /// The new run's id.
        run_id: RunId,
        /// When it was created.
        created_at: Timestamp,
        /// The run it re-runs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rerun_of: Option<RunId>,
        /// The target being run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_id: Option<TargetId>,
        /// The target's description.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_description: Option<String>,
    },
    /// A job started.
    JobStarted {
        /// The run.
        run_id: RunId,
        /// The job as recorded when it started.
        job: JobRecord,
    },
    /// A job finished.
    JobFinished {
        /// The run.
        run_id: RunId,
        /// The job's final record.
        job: JobRecord,
    },
    /// The run finished; its final record.
    RunFinished {
        /// The final record.
        run: RunRecord,
    },
}

impl LifecycleEvent {
    /// The `run_started` event for a record.
    pub fn run_started(run: &RunRecord) -> Self {
        Self::RunStarted {
            run_id: run.run_id.clone(),
            created_at: run.created_at,
            rerun_of: run.rerun_of.clone(),
            target_id: run.target_id.clone(),
            target_description: run.target_description.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_tagged_snake_case() {
        let run = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
        let v = serde_json::to_value(LifecycleEvent::run_started(&run)).unwrap();
        assert_eq!(v["event"], "run_started");
        assert_eq!(v["run_id"], "20260324T161238Z-1a2b3c4d");
        assert!(v.get("rerun_of").is_none());
        let v = serde_json::to_value(LifecycleEvent::RunFinished { run: run.clone() }).unwrap();
        assert_eq!(v["event"], "run_finished");
        assert_eq!(v["run"]["status"], "passed");
        let back: LifecycleEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, LifecycleEvent::RunFinished { run });
    }
}

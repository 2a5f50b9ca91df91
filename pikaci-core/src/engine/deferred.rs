//! Cleanup an executor leaves to finish after its job's result is recorded.
//!
//! Deleting an Incus instance takes longer than many jobs' own work, and
//! nothing the job reports depends on it. So an executor may hand the
//! engine a [`DeferredCleanup`] through [`JobContext::deferred`]: the engine
//! records the job's result and starts the next job at once, runs the
//! cleanup beside the jobs that follow (with the job's `host.log`), and
//! waits for every one of them before it writes the run's final record. What
//! the cleanup reports ([`DeferredReport`]: its timed phases and a failure)
//! is added to the job's record when it ends.
//!
//! A cleanup that is never run (a caller of [`Executor::execute`] that
//! ignores it, a run future dropped midway) is dropped: the executor's type
//! must then still clean up from its `Drop`, as the Incus executor does by
//! starting its commands detached.
//!
//! [`JobContext::deferred`]: super::JobContext::deferred
//! [`Executor::execute`]: super::Executor::execute

use futures::future::BoxFuture;

use crate::clock::Clock;
use crate::process::LogSink;
use crate::record::{RemoteVmExecution, VmPhase};

/// Work that must finish before the run ends, but not before the job's
/// result is recorded.
pub trait DeferredCleanup: Send {
    /// Runs the cleanup, writing its account into `host_log` (the job's
    /// `host.log`) and timing its phases with `clock`.
    fn run<'a>(
        self: Box<Self>,
        host_log: &'a mut dyn LogSink,
        clock: &'a dyn Clock,
    ) -> BoxFuture<'a, DeferredReport>;
}

/// What a deferred cleanup did, for the job's record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeferredReport {
    /// Timed phases to append to the job's `remote_linux_vm_execution`.
    pub phases: Vec<VmPhase>,
    /// Why the cleanup failed, if it did (appended to the job's message).
    pub failure: Option<String>,
}

impl DeferredReport {
    /// Adds the report to a job's `message` and `remote_linux_vm_execution`
    /// (a job's result, status and exit code stay as they were: the job's
    /// own work was done).
    pub fn amend(self, message: &mut Option<String>, execution: &mut Option<RemoteVmExecution>) {
        if let Some(exec) = execution {
            exec.phases.extend(self.phases);
        }
        if let Some(failure) = self.failure {
            let note = format!("cleanup failed: {failure}");
            *message = Some(match message.take() {
                Some(m) => format!("{m}; {note}"),
                None => note,
            });
        }
    }
}

/// Where an executor leaves its job's [`DeferredCleanup`]; the engine takes
/// it once the job's result is recorded.
#[derive(Default)]
pub struct Deferred(Option<Box<dyn DeferredCleanup>>);

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Deferred").field(&self.0.is_some()).finish()
    }
}

impl Deferred {
    /// Leaves `cleanup` for the engine to run after the job's result is
    /// recorded (replacing one left before).
    pub fn defer(&mut self, cleanup: Box<dyn DeferredCleanup>) {
        self.0 = Some(cleanup);
    }

    /// The cleanup left here, if any.
    pub fn take(&mut self) -> Option<Box<dyn DeferredCleanup>> {
        self.0.take()
    }

    /// Runs the cleanup left here, if any: what a caller of
    /// [`Executor::execute`](super::Executor::execute) that has no engine
    /// does once it has the job's outcome.
    pub async fn run(
        &mut self,
        host_log: &mut dyn LogSink,
        clock: &dyn Clock,
    ) -> Option<DeferredReport> {
        match self.take() {
            Some(cleanup) => Some(cleanup.run(host_log, clock).await),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(name: &str) -> VmPhase {
        let t = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        VmPhase {
            phase: name.to_owned(),
            started_at: t,
            finished_at: t,
            duration_ms: 0,
            extra: Default::default(),
        }
    }

    #[test]
    fn a_report_adds_its_phases_and_its_failure() {
        let mut message = Some("command exited with 0".to_owned());
        let mut exec = Some(RemoteVmExecution::new("incus", vec![phase("launch_guest")]));
        DeferredReport {
            phases: vec![phase("delete_instance")],
            failure: Some("`incus delete` exited with 1: busy".to_owned()),
        }
        .amend(&mut message, &mut exec);
        let names: Vec<_> = exec.unwrap().phases.into_iter().map(|p| p.phase).collect();
        assert_eq!(names, ["launch_guest", "delete_instance"]);
        assert_eq!(
            message.as_deref(),
            Some("command exited with 0; cleanup failed: `incus delete` exited with 1: busy")
        );

        let (mut none, mut no_exec) = (None, None);
        DeferredReport {
            phases: vec![phase("delete_instance")],
            failure: None,
        }
        .amend(&mut none, &mut no_exec);
        assert_eq!((none, no_exec), (None, None));
    }
}

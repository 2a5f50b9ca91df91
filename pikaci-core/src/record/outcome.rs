//! [`JobOutcome`]: how a job ended, as its executor reports it.

use super::model::RemoteVmExecution;
use crate::status::{FailureKind, RunStatus};

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub struct JobOutcome {
    /// `passed` or `failed` (or `skipped`).
    pub status: RunStatus,
    /// The command's exit code, when it exited by itself.
    pub exit_code: Option<i32>,
    /// A one-line summary.
    pub message: Option<String>,
    /// Why it failed.
    pub failure_kind: Option<FailureKind>,
    /// VM phases, for VM executors.
    pub remote_linux_vm_execution: Option<RemoteVmExecution>,
}

impl JobOutcome {
    /// A passed outcome with exit code 0.
    pub fn passed() -> Self {
        Self {
            status: RunStatus::Passed,
            exit_code: Some(0),
            message: None,
            failure_kind: None,
            remote_linux_vm_execution: None,
        }
    }

    /// A failed outcome.
    pub fn failed(kind: FailureKind, exit_code: Option<i32>, message: impl Into<String>) -> Self {
        Self {
            status: RunStatus::Failed,
            exit_code,
            message: Some(message.into()),
            failure_kind: Some(kind),
            remote_linux_vm_execution: None,
        }
    }
}

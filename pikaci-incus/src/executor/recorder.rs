//! Writing pikaci's account of the job to `host.log` and timing phases.

use jiff::Timestamp;
use pikaci_core::{Clock, process::LogSink};
use pikaci_core::{RemoteVmExecution, VmPhase};

use crate::command::IncusCommand;
use crate::plan::Phase;
use crate::runner::CommandOutput;

/// The backend name recorded in `run.json`.
pub(crate) const BACKEND: &str = "incus";

/// `host.log` plus the phase timings of one job.
pub(crate) struct Recorder<'a> {
    host_log: &'a mut dyn LogSink,
    clock: &'a dyn Clock,
    phases: Vec<VmPhase>,
    open: Option<(Phase, Timestamp)>,
}

impl<'a> Recorder<'a> {
    pub(crate) fn new(host_log: &'a mut dyn LogSink, clock: &'a dyn Clock) -> Self {
        Self {
            host_log,
            clock,
            phases: Vec::new(),
            open: None,
        }
    }

    /// One line of `host.log`. A log that cannot be written must not change
    /// the job's result, so write errors are dropped here, in one place.
    pub(crate) fn line(&mut self, text: &str) {
        let _ = writeln!(self.host_log, "{text}");
        let _ = self.host_log.flush();
    }

    /// Starts `phase` (closing any open one).
    pub(crate) fn begin(&mut self, phase: Phase) {
        self.end();
        self.line(&format!("== {phase}"));
        self.open = Some((phase, self.clock.now()));
    }

    /// Closes the open phase, if any, and records its timing.
    pub(crate) fn end(&mut self) {
        if let Some((phase, started_at)) = self.open.take() {
            let finished_at = self.clock.now();
            let duration_ms = finished_at
                .duration_since(started_at)
                .as_millis()
                .try_into()
                .unwrap_or(0);
            self.phases.push(VmPhase {
                phase: phase.as_str().to_owned(),
                started_at,
                finished_at,
                duration_ms,
                extra: Default::default(),
            });
        }
    }

    /// The phase in progress.
    pub(crate) fn current(&self) -> Option<Phase> {
        self.open.map(|(p, _)| p)
    }

    /// `$ command`.
    pub(crate) fn command(&mut self, cmd: &IncusCommand) {
        self.line(&format!("$ {}", cmd.display()));
    }

    /// The exit status and output of a finished command, indented.
    pub(crate) fn output(&mut self, out: &CommandOutput) {
        self.line(&format!("  -> {}", out.status_text()));
        self.indented("stdout", &out.stdout);
        self.indented("stderr", &out.stderr);
    }

    /// Output lines prefixed with `  stdout| ` or `  stderr| `.
    pub(crate) fn indented(&mut self, label: &str, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        for l in text.lines() {
            self.line(&format!("  {label}| {l}"));
        }
    }

    /// The phases recorded, the open one closed.
    pub(crate) fn into_phases(mut self) -> Vec<VmPhase> {
        self.end();
        self.phases
    }

    /// The phases recorded so far, as the record wants them.
    pub(crate) fn execution(&mut self) -> RemoteVmExecution {
        self.end();
        RemoteVmExecution::new(BACKEND, self.phases.clone())
    }
}

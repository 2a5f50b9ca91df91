//! The steps between the stale delete and the final delete, each through
//! the runner, each logged to `host.log` and timed as a phase.

use std::time::Duration;

use camino::Utf8Path;
use pikaci_core::cgroup::Cgroup;
use pikaci_core::{FailureKind, JobSpec};
use pikaci_core::{engine::JobOutcome, process::LogSink};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::recorder::Recorder;
use crate::command::IncusCommand;
use crate::config::InstanceType;
use crate::error::IncusError;
use crate::guest::{GUEST_LOG_FILE, GuestResult, GuestStatus, KILL_GRACE, RESULT_FILE};
use crate::hint::{Diagnosis, diagnose};
use crate::plan::{GuestLaunch, Phase, Planner, devices, pushed_trees};
use crate::runner::{CommandOutput, CommandRunner};
use crate::settings::IncusSettings;

/// Why the steps stopped before producing an outcome.
pub(crate) enum Stop {
    /// The run was cancelled.
    Cancelled,
    /// Incus (or the host) failed; the message names the step.
    Infrastructure(String),
}

/// `message`, then the fix for what Incus said, when it is recognised.
pub(crate) fn with_fix(settings: &IncusSettings, message: String, said: &str) -> String {
    match diagnose(said) {
        Some(d) => format!("{message}. Fix: {}", d.fix(settings)),
        None => message,
    }
}

/// The message for a command that could not be run at all.
pub(crate) fn spawn_failure(settings: &IncusSettings, phase: &str, e: &IncusError) -> String {
    let mut message = format!("step {phase}: {e}");
    if let IncusError::Spawn { source, program } = e {
        message.push_str(&format!(": {source}"));
        if source.kind() == std::io::ErrorKind::NotFound && *program == settings.program {
            message.push_str(&format!(
                ". Fix: {}",
                Diagnosis::ClientMissing.fix(settings)
            ));
        }
    }
    message
}

/// The steps between the stale delete and the final delete.
pub(crate) struct Steps<'a> {
    pub(crate) runner: &'a dyn CommandRunner,
    pub(crate) settings: &'a IncusSettings,
    pub(crate) planner: Planner<'a>,
    pub(crate) job: &'a JobSpec,
    pub(crate) workspace: &'a Utf8Path,
    /// The host side of `/artifacts` in mount mode; `None` in push mode.
    pub(crate) artifacts: Option<&'a Utf8Path>,
    pub(crate) launch: GuestLaunch,
    pub(crate) timeout: Duration,
    /// Cancels the job: a step in flight is dropped, except the guest's
    /// launch, which is asked to stop (SIGTERM reaches the command in the
    /// instance at once) and given [`STOP_GRACE`] to end.
    pub(crate) cancel: &'a CancellationToken,
    /// The job's own cgroup, where the local `incus exec` of its launch
    /// runs (the job itself runs in its instance's).
    pub(crate) cgroup: Option<&'a Cgroup>,
}

/// How long a cancelled guest gets to stop its command (the guest's own
/// SIGTERM-to-SIGKILL grace, and a margin for its result and its output to
/// come back) before `incus exec` is killed and the instance deleted.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(KILL_GRACE.as_secs() + 5);

impl Steps<'_> {
    /// Runs `cmd`, logs it, and returns its output (spawn errors become
    /// infrastructure failures).
    async fn exec(
        &self,
        rec: &mut Recorder<'_>,
        cmd: &IncusCommand,
    ) -> Result<CommandOutput, Stop> {
        rec.command(cmd);
        let phase = rec.current().map_or("?", |p| p.as_str());
        let limit = self.settings.command_timeout;
        let ran = tokio::select! {
            biased;
            () = self.cancel.cancelled() => return Err(Stop::Cancelled),
            ran = tokio::time::timeout(limit, self.runner.run(cmd)) => ran,
        };
        match ran {
            Ok(Ok(out)) => {
                rec.output(&out);
                Ok(out)
            }
            Ok(Err(e)) => {
                rec.line(&format!("  -> {e}"));
                Err(Stop::Infrastructure(spawn_failure(
                    self.settings,
                    phase,
                    &e,
                )))
            }
            Err(_) => {
                let message = format!(
                    "step {phase}: `{}` did not finish within {}s",
                    cmd.program,
                    limit.as_secs()
                );
                rec.line(&format!("  -> {message}"));
                Err(Stop::Infrastructure(message))
            }
        }
    }

    /// Runs `cmd` and fails the job if it does not exit 0, quoting what
    /// Incus said and how to fix it.
    async fn must(
        &self,
        rec: &mut Recorder<'_>,
        cmd: &IncusCommand,
    ) -> Result<CommandOutput, Stop> {
        let out = self.exec(rec, cmd).await?;
        if out.success() {
            return Ok(out);
        }
        Err(Stop::Infrastructure(self.failed(rec, &out)))
    }

    fn failed(&self, rec: &Recorder<'_>, out: &CommandOutput) -> String {
        let phase = rec.current().map_or("?", |p| p.as_str());
        let said = out.error_text();
        let message = format!("step {phase} failed ({}): {said}", out.status_text());
        with_fix(self.settings, message, &said)
    }

    pub(crate) async fn run(
        self,
        rec: &mut Recorder<'_>,
        guest_log: &mut dyn LogSink,
    ) -> Result<JobOutcome, Stop> {
        let p = self.planner;

        rec.begin(Phase::DeleteStale);
        let out = self.exec(rec, &p.delete()).await?;
        if !out.success() && !out.summary().to_lowercase().contains("instance not found") {
            return Err(Stop::Infrastructure(self.failed(rec, &out)));
        }

        let devs = match self.artifacts {
            Some(dir) => {
                rec.begin(Phase::PrepareArtifacts);
                for cmd in p.prepare_artifacts(dir) {
                    self.must(rec, &cmd).await?;
                }
                devices(
                    self.settings,
                    self.workspace,
                    dir,
                    self.job.writable_workspace,
                )
            }
            None => Vec::new(),
        };

        rec.begin(Phase::InitInstance);
        self.must(rec, &p.init(&devs)).await?;

        rec.begin(Phase::StartInstance);
        self.must(rec, &p.start()).await?;

        // A container runs commands as soon as `start` returns; a VM only
        // once its agent is up.
        if self.settings.instance_type == InstanceType::Vm {
            rec.begin(Phase::WaitReady);
            self.wait_ready(rec).await?;
        }

        if self.artifacts.is_none() {
            rec.begin(Phase::PushFiles);
            for tree in pushed_trees(self.settings, self.workspace, self.job.writable_workspace) {
                self.must(rec, &p.push(&tree)).await?;
            }
        }

        rec.begin(Phase::LaunchGuest);
        let launch = p.launch(&self.launch);
        rec.command(&launch);
        let limit = self.timeout + self.settings.launch_grace;
        let launched =
            self.runner
                .stream_stoppable(&launch, guest_log, self.cancel, STOP_GRACE, self.cgroup);
        let streamed = match tokio::time::timeout(limit, launched).await {
            Err(_) => {
                let message = format!(
                    "timed out: the guest did not finish within {}s (job timeout {}s plus {}s grace)",
                    limit.as_secs(),
                    self.timeout.as_secs(),
                    self.settings.launch_grace.as_secs()
                );
                rec.line(&format!("  -> {message}"));
                return Ok(JobOutcome::failed(FailureKind::Timeout, None, message));
            }
            Ok(Err(e)) => {
                rec.line(&format!("  -> {e}"));
                return Err(Stop::Infrastructure(spawn_failure(
                    self.settings,
                    Phase::LaunchGuest.as_str(),
                    &e,
                )));
            }
            Ok(Ok(s)) => s,
        };
        rec.line(&format!(
            "  -> {} ({} bytes streamed to guest.log)",
            streamed.status_text(),
            streamed.streamed
        ));
        rec.indented("stderr", &streamed.stderr);
        if self.cancel.is_cancelled() {
            rec.line("  -> cancelled: the guest was told to stop (SIGTERM to the command's process group, SIGKILL after its grace)");
            return Err(Stop::Cancelled);
        }

        rec.begin(Phase::CollectArtifacts);
        let pulled = self
            .exec(rec, &p.read_artifact(self.artifacts, RESULT_FILE))
            .await?;
        let result = if pulled.success() {
            match serde_json::from_slice::<GuestResult>(&pulled.stdout) {
                Ok(r) => Ok(r),
                Err(e) => Err(format!("result.json is not valid: {e}")),
            }
        } else {
            Err(format!(
                "result.json could not be read: {}",
                pulled.error_text()
            ))
        };
        if streamed.streamed == 0 {
            let log = self
                .exec(rec, &p.read_artifact(self.artifacts, GUEST_LOG_FILE))
                .await?;
            if log.success() && !log.stdout.is_empty() {
                rec.line("  (the streamed output was empty; guest.log taken from /artifacts)");
                let _ = guest_log.write_all(&log.stdout);
                let _ = guest_log.flush();
            }
        }

        Ok(match result {
            Ok(r) => outcome_from_result(r),
            Err(why) => {
                let said = streamed.error_text();
                let detail = if said.is_empty() {
                    String::new()
                } else {
                    format!(": {said}")
                };
                let message = format!(
                    "step launch_guest ended with {}{detail}; {why}",
                    streamed.status_text()
                );
                JobOutcome::failed(
                    FailureKind::Infrastructure,
                    streamed.code,
                    with_fix(self.settings, message, &said),
                )
            }
        })
    }

    /// Probes until the agent answers or the readiness timeout passes.
    async fn wait_ready(&self, rec: &mut Recorder<'_>) -> Result<(), Stop> {
        let probe = self.planner.probe();
        let bound = self.settings.readiness_timeout;
        let deadline = Instant::now() + bound;
        let mut attempts = 0u32;
        let mut last: Option<CommandOutput> = None;
        loop {
            attempts += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(remaining, self.exec(rec, &probe)).await {
                Ok(out) => {
                    let out = out?;
                    if out.success() {
                        rec.line(&format!("  ready after {attempts} probe(s)"));
                        return Ok(());
                    }
                    last = Some(out);
                }
                Err(_) => rec.line("  -> probe still running at the readiness deadline"),
            }
            let now = Instant::now();
            if now >= deadline {
                let last = match &last {
                    Some(out) => format!("last probe {}: {}", out.status_text(), out.error_text()),
                    None => "no probe finished".to_owned(),
                };
                return Err(Stop::Infrastructure(format!(
                    "step wait_ready failed: the instance never became ready within {}s \
                     ({attempts} probes of `{}`); {last}",
                    bound.as_secs(),
                    probe.display(),
                )));
            }
            let pause = tokio::time::sleep(self.settings.readiness_interval.min(deadline - now));
            tokio::select! {
                biased;
                () = self.cancel.cancelled() => return Err(Stop::Cancelled),
                () = pause => {}
            }
        }
    }
}

fn outcome_from_result(r: GuestResult) -> JobOutcome {
    let message = r.message.clone().unwrap_or_default();
    match r.status {
        GuestStatus::Passed => JobOutcome {
            message: r.message,
            ..JobOutcome::passed()
        },
        GuestStatus::Failed => JobOutcome::failed(
            FailureKind::TestFailure,
            r.exit_code,
            format!("the command failed: {message}"),
        ),
        GuestStatus::Timeout => JobOutcome::failed(FailureKind::Timeout, r.exit_code, message),
        GuestStatus::Cancelled => JobOutcome::failed(FailureKind::Cancelled, r.exit_code, message),
        GuestStatus::Error => JobOutcome::failed(
            FailureKind::Infrastructure,
            r.exit_code,
            format!("the guest could not run the command: {message}"),
        ),
    }
}

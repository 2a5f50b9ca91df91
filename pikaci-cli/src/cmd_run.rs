//! `pikaci run` and `pikaci rerun`.

use std::io::Write as _;
use std::sync::{Arc, OnceLock};

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::process::JobCgroups;
use pikaci_core::process::exit_cleanup::ExitCleanup;
use pikaci_core::process::supervisor::JobSupervisor;
use pikaci_core::snapshot::source::GitInfo;
use pikaci_core::{
    JobId, Pipeline, RerunScope, RunId, RunRecord, RunStatus, SystemLiveness, TargetId,
};
use pikaci_core::{
    engine::{
        CancelReason, Engine, HostExecutor, JobSelection, KeptFiles, KeptSnapshot, RunRequest,
        RunSource,
    },
    snapshot::SnapshotPolicy,
};
use pikaci_incus::{IncusConfig, IncusExecutor};
use tokio_util::sync::CancellationToken;

use crate::args::{ExecOpts, RerunOpts, RunOpts};
use crate::context::{Context, absolute, canonical_to_be, load_pipeline, parse_id};
use crate::exit::outln;
use crate::exit::{CliError, EXIT_INTERRUPTED, EXIT_JOB_FAILED, EXIT_OK, EXIT_TERMINATED};
use crate::render::{RenderOptions, Renderer};
use crate::runs::resolve_run;
use crate::style::Style;

/// `pikaci run [TARGET] [--job ID]...`.
pub(crate) async fn run(ctx: &Context, opts: RunOpts) -> Result<u8, CliError> {
    let target = opts
        .target
        .as_deref()
        .map(|t| parse_id::<TargetId>("target id", t))
        .transpose()?;
    let jobs = opts
        .job
        .iter()
        .map(|j| parse_id::<JobId>("job id", j))
        .collect::<Result<Vec<_>, _>>()?;
    let origin = Origin::source(ctx, &opts.exec)?;
    execute(ctx, &opts.exec, origin, target, jobs, None).await
}

/// `pikaci rerun RUN_ID [--failed] [--from-source]`.
pub(crate) async fn rerun(ctx: &Context, opts: RerunOpts) -> Result<u8, CliError> {
    let store = ctx.store();
    let run_id = resolve_run(&store, &opts.run_id, |id| store.load_run_record(id))?;
    let old = store.run(&run_id)?.record()?;
    let jobs = old.rerun_jobs(if opts.failed {
        RerunScope::NotPassed
    } else {
        RerunScope::All
    });
    if jobs.is_empty() {
        outln!("run {run_id} has no jobs to run again");
        return Ok(EXIT_OK);
    }
    let origin = if opts.from_source {
        Origin::source(ctx, &opts.exec)?
    } else {
        Origin::kept_snapshot(ctx, &opts.exec, &store, &old)?
    };
    execute(
        ctx,
        &opts.exec,
        origin,
        old.target_id.clone(),
        jobs,
        Some(run_id),
    )
    .await
}

/// Where a run's pipeline and files come from.
struct Origin {
    pipeline: Pipeline,
    source_root: Utf8PathBuf,
    source: RunSource,
    /// For a rerun in a kept snapshot: the hold on the run that keeps it,
    /// so gc leaves that run until this one ends.
    hold: Option<pikaci_store::FolderHold>,
}

impl Origin {
    /// The pipeline file (`--config`, else `./pikaci.toml`) and a new
    /// snapshot of the source folder (`--source`, else the pipeline file's).
    fn source(ctx: &Context, exec: &ExecOpts) -> Result<Self, CliError> {
        let pipeline_path = ctx.pipeline_path(exec.config.as_deref());
        Ok(Self {
            pipeline: load_pipeline(&pipeline_path)?,
            source_root: source_folder(ctx, exec, &pipeline_path)?,
            source: RunSource::Fresh,
            hold: None,
        })
    }

    /// The snapshot `old` ran in, kept in its run folder (found through the
    /// layout), with the pipeline file as it is in that snapshot when the
    /// file lies inside the source folder: the same bytes `old` ran.
    fn kept_snapshot(
        ctx: &Context,
        exec: &ExecOpts,
        store: &pikaci_store::Store,
        old: &RunRecord,
    ) -> Result<Self, CliError> {
        let owner = old.snapshot_owner().clone();
        let gone = || CliError::SnapshotGone {
            run: old.run_id.clone(),
            owner: owner.clone(),
        };
        // Held first (gc deletes no held run), then looked at: a gc that
        // was deleting it has finished by then, and the snapshot is gone.
        let hold = match store.hold_run(&owner) {
            Ok(hold) => hold,
            Err(e) if e.is_not_found() => return Err(gone()),
            Err(e) => return Err(e.into()),
        };
        let files = match store.run(&owner) {
            Ok(dir) => dir.kept_snapshot()?.ok_or_else(gone)?,
            Err(e) if e.is_not_found() => return Err(gone()),
            Err(e) => return Err(e.into()),
        };
        let pipeline_path = ctx.pipeline_path(exec.config.as_deref());
        let source = source_folder(ctx, exec, &pipeline_path)?;
        let rel = canonical(&pipeline_path)
            .and_then(|p| p.strip_prefix(&source).ok().map(Utf8Path::to_owned));
        let pipeline = match (&files, rel) {
            (KeptFiles::Folder(dir), Some(rel)) => {
                let kept = dir.join(rel);
                if std::fs::symlink_metadata(&kept).is_ok_and(|m| m.is_file()) {
                    load_pipeline(&kept)?
                } else {
                    load_pipeline(&pipeline_path)?
                }
            }
            (KeptFiles::Manifest(layout), Some(rel)) => {
                let bytes =
                    layout
                        .read_file(&rel)
                        .map_err(|source| CliError::SnapshotUnreadable {
                            run: owner.clone(),
                            source,
                        })?;
                match bytes {
                    Some(bytes) => {
                        let text = String::from_utf8(bytes).map_err(|e| CliError::ConfigRead {
                            path: pipeline_path.to_string(),
                            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                        })?;
                        crate::context::parse_pipeline(text, &pipeline_path)?
                    }
                    None => load_pipeline(&pipeline_path)?,
                }
            }
            (_, None) => load_pipeline(&pipeline_path)?,
        };
        Ok(Self {
            pipeline,
            source_root: old.source_root.clone(),
            source: RunSource::Kept(KeptSnapshot {
                of: owner,
                files,
                git: GitInfo {
                    head: old.git_head.clone(),
                    branch: old.git_branch.clone(),
                    dirty: old.git_dirty,
                    changed_files: old.changed_files.clone(),
                },
            }),
            hold: Some(hold),
        })
    }
}

/// The source folder: `--source`, else the pipeline file's folder, canonical.
fn source_folder(
    ctx: &Context,
    exec: &ExecOpts,
    pipeline_path: &Utf8Path,
) -> Result<Utf8PathBuf, CliError> {
    let source = match &exec.source {
        Some(s) => absolute(s, &ctx.cwd),
        None => pipeline_path
            .parent()
            .map_or_else(|| ctx.cwd.clone(), Utf8PathBuf::from),
    };
    canonical(&source)
        .ok_or_else(|| CliError::Usage(format!("source folder {source} does not exist")))
}

async fn execute(
    ctx: &Context,
    exec: &ExecOpts,
    origin: Origin,
    target: Option<TargetId>,
    jobs: Vec<JobId>,
    rerun_of: Option<RunId>,
) -> Result<u8, CliError> {
    // The hold lives until the run has ended.
    let Origin {
        pipeline,
        source_root,
        source,
        hold: _hold,
    } = origin;
    if pipeline.jobs.is_empty() {
        return Err(CliError::EmptyPipeline {
            path: ctx.pipeline_path(exec.config.as_deref()).to_string(),
        });
    }
    // The one place a run's jobs are chosen; the engine runs this selection.
    let selection = JobSelection::new(&pipeline, target, jobs)?;
    // `[incus]` is read on every run, so a mistake in it is found at once;
    // the environment is only consulted when a job runs in Incus.
    let incus = IncusConfig::from_section(&pipeline.incus)?;
    // The state root may not exist yet: the store makes it with the run's
    // folder (and says so, once, if it cannot); here it is only resolved, so
    // it can be compared with the source folder and left out of the snapshot.
    let state_root = canonical_to_be(&ctx.state_root);
    let exclude = state_root
        .starts_with(&source_root)
        .then(|| state_root.clone());
    // When the state root cannot take the snapshot, the jobs still run from
    // one in the temporary folder.
    let fallback = Utf8PathBuf::from_path_buf(std::env::temp_dir())
        .unwrap_or_else(|_| Utf8PathBuf::from("/tmp"));

    let cgroups = JobCgroups::detect();
    let mut builder = Engine::builder(pikaci_store::Store::open(state_root))
        .executor(Arc::new(
            HostExecutor::new()
                .supervisor(JobSupervisor::this_executable())
                .cgroups(cgroups.clone()),
        ))
        .owner(SystemLiveness::new().current_owner())
        .snapshot(SnapshotPolicy::Copy {
            exclude,
            keep: !exec.discard_snapshot,
            fallback: Some(fallback),
        });
    // Executors beyond the host are registered here, only when a selected job
    // needs them (so a bad Incus variable cannot break a host-only run).
    if selection
        .jobs()
        .iter()
        .any(|j| IncusExecutor::serves_kind(&j.executor))
    {
        builder = builder.executor(Arc::new(
            IncusExecutor::new(crate::cmd_incus::resolve(&incus)?)
                .cleanup_on_exit(ExitCleanup::this_executable())
                .cgroups(cgroups),
        ));
    }
    let engine = builder.build();

    let renderer = Renderer::new(
        RenderOptions {
            output: exec.output,
            style: Style::new(ctx.color),
            failure_lines: exec.failure_lines,
            total: selection.jobs().len(),
        },
        ctx.store(),
    );
    let ticker = renderer.spawn_ticker();
    let cancel = CancellationToken::new();
    let cancel_reason = CancelReason::default();
    let signals = SignalWatch::spawn(cancel.clone(), cancel_reason.clone())?;
    let request = RunRequest {
        selection,
        source_root,
        source,
        rerun_of,
        parallelism: usize::from(exec.jobs),
        cancel,
        cancel_reason,
        branch: exec.branch.clone(),
    };
    let record = engine.run(request, &renderer).await;
    signals.task.abort();
    if let Some(t) = ticker {
        t.abort();
    }
    Ok(match (record.status, signals.caught.get()) {
        (RunStatus::Passed, _) => EXIT_OK,
        // Cancelled by a signal: 128 + its number, as a shell reports a
        // command the signal ended.
        (_, Some(code)) => *code,
        _ => EXIT_JOB_FAILED,
    })
}

fn canonical(path: &camino::Utf8Path) -> Option<Utf8PathBuf> {
    std::fs::canonicalize(path)
        .ok()
        .and_then(|p| Utf8PathBuf::from_path_buf(p).ok())
}

/// SIGINT or SIGTERM cancels the run; the engine stops the jobs and still
/// writes the final record, with the signal as the cancel reason.
struct SignalWatch {
    task: tokio::task::JoinHandle<()>,
    /// The exit code the caught signal gives (130, 143).
    caught: Arc<OnceLock<u8>>,
}

impl SignalWatch {
    fn spawn(cancel: CancellationToken, reason: CancelReason) -> Result<Self, CliError> {
        use tokio::signal::unix::{SignalKind, signal};
        let internal = |source| CliError::Internal {
            what: "installing signal handlers".into(),
            source,
        };
        let mut int = signal(SignalKind::interrupt()).map_err(internal)?;
        let mut term = signal(SignalKind::terminate()).map_err(internal)?;
        let caught = Arc::new(OnceLock::new());
        let set = caught.clone();
        let task = tokio::spawn(async move {
            let (code, why) = tokio::select! {
                _ = int.recv() => (EXIT_INTERRUPTED, "interrupted (SIGINT, Ctrl-C)"),
                _ = term.recv() => (EXIT_TERMINATED, "terminated (SIGTERM)"),
            };
            let _ = set.set(code);
            reason.set(why);
            let _ = writeln!(
                std::io::stderr(),
                "\npikaci: {why}: stopping running jobs and writing the final record"
            );
            cancel.cancel();
        });
        Ok(Self { task, caught })
    }
}

//! `pikaci gc`, `pikaci incus plan|gc` and `pikaci generate`.

use std::collections::BTreeMap;

use clap::CommandFactory;
use pikaci_core::engine::{Clock, JobSelection, SystemClock};
use pikaci_core::{JobId, RunId, SystemLiveness};
use pikaci_incus::{IncusExecutor, IncusSettings, ProcessRunner, gc_instances, plan_job};
use pikaci_store::GcPolicy;

use crate::args::{Cli, GcOpts, GenerateCommand, IncusGcOpts, IncusPlanOpts};
use crate::context::{Context, load_pipeline, parse_id};
use crate::exit::{CliError, EXIT_INTERNAL, EXIT_OK};

/// `pikaci gc`.
pub(crate) fn gc(ctx: &Context, opts: &GcOpts) -> Result<u8, CliError> {
    if opts.keep_runs.is_none() && opts.older_than.is_none() {
        return Err(CliError::Usage(
            "say what to delete: --keep-runs N and/or --older-than DURATION".into(),
        ));
    }
    let policy = GcPolicy {
        keep_runs: opts.keep_runs,
        older_than: opts.older_than,
        stale_running_after: opts.stale_after,
    };
    let report = ctx.store().gc_runs(
        &policy,
        &SystemLiveness::new(),
        SystemClock.now(),
        opts.dry_run,
    )?;
    let verb = if opts.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    for id in &report.deleted {
        println!("{verb} {id}");
    }
    for id in &report.skipped_running {
        println!("kept {id}: still running");
    }
    println!(
        "{verb} {} run(s), kept {}, {} still running",
        report.deleted.len(),
        report.kept.len(),
        report.skipped_running.len()
    );
    Ok(EXIT_OK)
}

fn env_map() -> BTreeMap<String, String> {
    std::env::vars().collect()
}

/// `pikaci incus plan`.
pub(crate) fn incus_plan(ctx: &Context, opts: &IncusPlanOpts) -> Result<u8, CliError> {
    let pipeline = load_pipeline(&ctx.pipeline_path(opts.config.as_deref()))?;
    let jobs = opts
        .job
        .iter()
        .map(|j| parse_id::<JobId>("job id", j))
        .collect::<Result<Vec<_>, _>>()?;
    let named = !jobs.is_empty();
    let selection = JobSelection::new(&pipeline, None, jobs)?;
    let settings = IncusSettings::resolve(&pipeline.incus, &env_map())?;
    // A plan is for an example run id: a real run gets its own.
    let run_id = RunId::new_at(SystemClock.now());
    let snapshot = ctx.store().root().snapshot_dir(&run_id);
    let mut planned = 0;
    for job in selection
        .jobs()
        .iter()
        .filter(|j| IncusExecutor::serves_kind(&j.executor) || named)
    {
        print!("{}", plan_job(&settings, &run_id, job, &snapshot)?);
        planned += 1;
    }
    if planned == 0 {
        println!("no job of this pipeline runs with executor = \"incus\"");
    }
    Ok(EXIT_OK)
}

/// `pikaci incus gc`.
pub(crate) async fn incus_gc(ctx: &Context, opts: &IncusGcOpts) -> Result<u8, CliError> {
    let path = ctx.pipeline_path(opts.config.as_deref());
    let incus = if path.exists() {
        load_pipeline(&path)?.incus
    } else {
        Default::default()
    };
    let settings = IncusSettings::resolve(&incus, &env_map())?;
    let report = gc_instances(
        &settings,
        &ProcessRunner,
        opts.older_than,
        SystemClock.now(),
    )
    .await?;
    for name in &report.deleted {
        println!("deleted {name}");
    }
    for (name, why) in &report.failed {
        eprintln!("could not delete {name}: {why}");
    }
    println!(
        "deleted {} instance(s), kept {} younger ones",
        report.deleted.len(),
        report.kept.len()
    );
    Ok(if report.failed.is_empty() {
        EXIT_OK
    } else {
        EXIT_INTERNAL
    })
}

/// `pikaci generate completions SHELL | man`.
pub(crate) fn generate(cmd: &GenerateCommand) -> Result<u8, CliError> {
    let mut command = Cli::command();
    let mut out = std::io::stdout();
    match cmd {
        GenerateCommand::Completions { shell } => {
            clap_complete::generate(*shell, &mut command, "pikaci", &mut out);
        }
        GenerateCommand::Man => {
            clap_mangen::Man::new(command)
                .render(&mut out)
                .map_err(|source| CliError::Internal {
                    what: "writing the man page".into(),
                    source,
                })?;
        }
    }
    Ok(EXIT_OK)
}

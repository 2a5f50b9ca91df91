//! `pikaci incus plan|doctor|gc`.

use std::collections::BTreeMap;
use std::io::Write as _;

use pikaci_core::{Clock, SystemClock, engine::JobSelection};
use pikaci_core::{JobId, RunId};
use pikaci_incus::{
    IncusConfig, IncusExecutor, IncusSettings, ProcessRunner, doctor, gc_instances, plan_job,
};

use crate::args::{IncusDoctorOpts, IncusGcOpts, IncusPlanOpts};
use crate::context::{Context, load_pipeline, parse_id};
use crate::exit::{CliError, EXIT_INTERNAL, EXIT_JOB_FAILED, EXIT_OK};
use crate::exit::{out, outln};

/// The settings of `--config FILE` (or `./pikaci.toml`), with the
/// environment's overrides; the defaults when there is no such file and none
/// was named.
fn settings(ctx: &Context, config: Option<&camino::Utf8Path>) -> Result<IncusSettings, CliError> {
    let path = ctx.pipeline_path(config);
    let incus = if config.is_some() || path.exists() {
        IncusConfig::from_section(&load_pipeline(&path)?.incus)?
    } else {
        IncusConfig::default()
    };
    resolve(&incus)
}

/// `[incus]` with the environment's overrides and the defaults.
pub(crate) fn resolve(config: &IncusConfig) -> Result<IncusSettings, CliError> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    Ok(IncusSettings::resolve(config, &env)?)
}

/// `pikaci incus plan`.
pub(crate) fn plan(ctx: &Context, opts: &IncusPlanOpts) -> Result<u8, CliError> {
    let pipeline = load_pipeline(&ctx.pipeline_path(opts.config.as_deref()))?;
    let jobs = opts
        .job
        .iter()
        .map(|j| parse_id::<JobId>("job id", j))
        .collect::<Result<Vec<_>, _>>()?;
    let named = !jobs.is_empty();
    let selection = JobSelection::new(&pipeline, None, jobs)?;
    let settings = resolve(&IncusConfig::from_section(&pipeline.incus)?)?;
    // A plan is for an example run id: a real run gets its own.
    let run_id = RunId::new_at(SystemClock.now());
    let snapshot = ctx.store().root().snapshot_dir(&run_id);
    let mut planned = 0;
    for job in selection
        .jobs()
        .iter()
        .filter(|j| IncusExecutor::serves_kind(&j.executor) || named)
    {
        out!("{}", plan_job(&settings, &run_id, job, &snapshot)?);
        planned += 1;
    }
    if planned == 0 {
        outln!("no job of this pipeline runs with executor = \"incus\"");
    }
    Ok(EXIT_OK)
}

/// `pikaci incus doctor`: the table, then exit 1 when jobs cannot run.
pub(crate) async fn doctor_cmd(ctx: &Context, opts: &IncusDoctorOpts) -> Result<u8, CliError> {
    let settings = settings(ctx, opts.config.as_deref())?;
    let report = doctor(&settings, &ProcessRunner).await;
    out!("{report}");
    Ok(if report.jobs_can_run() {
        EXIT_OK
    } else {
        EXIT_JOB_FAILED
    })
}

/// `pikaci incus gc`.
pub(crate) async fn gc(ctx: &Context, opts: &IncusGcOpts) -> Result<u8, CliError> {
    let settings = settings(ctx, opts.config.as_deref())?;
    let report = gc_instances(
        &settings,
        &ProcessRunner,
        opts.older_than,
        SystemClock.now(),
    )
    .await?;
    for name in &report.deleted {
        outln!("deleted {name}");
    }
    for (name, why) in &report.failed {
        let _ = writeln!(std::io::stderr(), "could not delete {name}: {why}");
    }
    outln!(
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

//! `pikaci gc` and `pikaci generate`.

use clap::CommandFactory;
use pikaci_core::SystemLiveness;
use pikaci_core::engine::{Clock, SystemClock};
use pikaci_store::GcPolicy;

use crate::args::{Cli, GcOpts, GenerateCommand};
use crate::context::Context;
use crate::exit::{CliError, EXIT_OK};

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
    for id in &report.snapshot_in_use {
        println!("kept {id}: a running rerun runs in its snapshot");
    }
    let in_use = match report.snapshot_in_use.len() {
        0 => String::new(),
        n => format!(", {n} whose snapshot a running rerun uses"),
    };
    println!(
        "{verb} {} run(s), kept {}, {} still running{in_use}",
        report.deleted.len(),
        report.kept.len(),
        report.skipped_running.len()
    );
    Ok(EXIT_OK)
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

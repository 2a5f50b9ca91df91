//! `pikaci gc` and `pikaci generate`.

use std::io::Write as _;

use clap::CommandFactory;
use pikaci_core::SystemLiveness;
use pikaci_core::{Clock, SystemClock};
use pikaci_store::GcPolicy;

use crate::args::{Cli, DuOpts, GcOpts, GenerateCommand};
use crate::context::Context;
use crate::exit::outln;
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
        outln!("{verb} {id}");
    }
    for id in &report.skipped_running {
        outln!("kept {id}: still running");
    }
    for id in &report.snapshot_in_use {
        outln!("kept {id}: a running rerun runs in its snapshot");
    }
    let in_use = match report.snapshot_in_use.len() {
        0 => String::new(),
        n => format!(", {n} whose snapshot a running rerun uses"),
    };
    outln!(
        "{verb} {} run(s), kept {}, {} still running{in_use}",
        report.deleted.len(),
        report.kept.len(),
        report.skipped_running.len()
    );
    let objects = &report.objects;
    let sweep = if objects.busy {
        "; shared files not swept: a run is writing them (the next gc sweeps)".to_owned()
    } else {
        format!(
            "; {} shared file(s) no run uses: {}",
            objects.objects,
            bytes(objects.bytes)
        )
    };
    let freed = if opts.dry_run { "would free" } else { "freed" };
    outln!(
        "{freed} {} ({} bytes): runs {}{sweep}",
        bytes(report.freed_bytes()),
        report.freed_bytes(),
        bytes(report.runs_bytes)
    );
    Ok(EXIT_OK)
}

/// `pikaci du`.
pub(crate) fn du(ctx: &Context, opts: &DuOpts) -> Result<u8, CliError> {
    let usage = ctx.store().usage()?;
    outln!("{:<28} {:>12} {:>12}", "RUN", "ALONE", "SHARED");
    for run in usage.runs.iter().take(opts.limit.unwrap_or(usize::MAX)) {
        outln!(
            "{:<28} {:>12} {:>12}",
            run.run.as_str(),
            bytes(run.own_bytes),
            bytes(run.shared_bytes)
        );
    }
    outln!(
        "total {} ({} bytes): run folders {}, shared files {} (of which no run uses {})",
        bytes(usage.total_bytes()),
        usage.total_bytes(),
        bytes(usage.runs_bytes),
        bytes(usage.objects_bytes),
        bytes(usage.unused_bytes)
    );
    Ok(EXIT_OK)
}

/// Bytes for people: `512 B`, `1.5 KiB`, `375.0 MiB`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `pikaci generate completions SHELL | man [--out-dir DIR]`. Everything is
/// rendered into memory first, so a closed pipe is a quiet exit, not a panic
/// inside a generator.
pub(crate) fn generate(cmd: &GenerateCommand) -> Result<u8, CliError> {
    let mut command = Cli::command();
    let mut buf = Vec::new();
    let internal = |what: &str| {
        let what = what.to_owned();
        move |source| CliError::Internal { what, source }
    };
    match cmd {
        GenerateCommand::Completions { shell } => {
            crate::complete::registration(*shell, &mut buf)
                .map_err(internal("writing the completion script"))?;
        }
        GenerateCommand::Man { out_dir: None } => {
            clap_mangen::Man::new(command)
                .render(&mut buf)
                .map_err(internal("writing the man page"))?;
        }
        GenerateCommand::Man { out_dir: Some(dir) } => {
            std::fs::create_dir_all(dir).map_err(internal(&format!("creating {dir}")))?;
            // One page per command and subcommand (pikaci-run.1, ...): the
            // pages that pikaci.1 names under SUBCOMMANDS.
            command.build();
            clap_mangen::generate_to(command, dir)
                .map_err(internal(&format!("writing the man pages into {dir}")))?;
            let mut pages: Vec<String> = std::fs::read_dir(dir)
                .map_err(internal(&format!("listing {dir}")))?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with("pikaci") && n.ends_with(".1"))
                .collect();
            pages.sort();
            outln!(
                "wrote {} man pages into {dir}: {}",
                pages.len(),
                pages.join(" ")
            );
            return Ok(EXIT_OK);
        }
    }
    std::io::stdout()
        .write_all(&buf)
        .map_err(crate::exit::printing)?;
    Ok(EXIT_OK)
}

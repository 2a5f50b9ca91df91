//! The `pikaci` command: a thin clap layer over `pikaci-core`, `pikaci-store`
//! and `pikaci-incus`.
//!
//! Flags ([`args::Cli`]) become library values in [`context`] (state root,
//! pipeline, ids); each subcommand is a short function calling the
//! libraries; [`exit::CliError`] says which exit code each failure gets (the
//! codes themselves are `pikaci_core::contract`'s). [`main`] is the whole
//! binary.
//!
//! ```
//! use camino::Utf8Path;
//! use clap::Parser;
//! use pikaci_cli::args::{Cli, Command};
//! use pikaci_cli::context::resolve_state_root;
//! use pikaci_cli::exit::{CliError, EXIT_USAGE};
//!
//! let cli = Cli::try_parse_from(["pikaci", "logs", "20260324T161238Z-1a2b3c4d", "--tail", "4096"])?;
//! assert!(matches!(cli.command, Command::Logs(ref o) if o.tail == Some(4096)));
//! // --state-root, else $PIKACI_STATE_ROOT, else ./.pikaci: made absolute.
//! assert_eq!(resolve_state_root(None, Some("ci-state"), Utf8Path::new("/repo")), "/repo/ci-state");
//! assert_eq!(CliError::Usage("no such flag".into()).exit_code(), EXIT_USAGE);
//! # Ok::<(), clap::Error>(())
//! ```

pub mod args;
mod candidates;
mod cmd_admin;
mod cmd_incus;
mod cmd_read;
mod cmd_run;
mod cmd_targets;
pub mod complete;
pub mod context;
mod diagnostic;
pub mod exit;
mod render;
pub mod runs;
mod show;
pub mod style;
mod tail;

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command, IncusCommand};
use crate::context::Context;
use crate::exit::{CliError, EXIT_INTERNAL};

/// Parses the command line, runs the command and returns its exit code.
pub fn main() -> ExitCode {
    // pikaci re-runs itself as the supervisor of each job it runs on the host,
    // and as the watcher that deletes an Incus job's instance if pikaci dies.
    if let Some(code) = pikaci_core::process::supervisor::dispatch(std::env::args_os()) {
        return code;
    }
    if let Some(code) = pikaci_core::process::exit_cleanup::dispatch(std::env::args_os()) {
        return code;
    }
    // A shell asking for completions (the script `generate completions` prints).
    if let Some(code) = complete::dispatch() {
        return code;
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // clap prints help (exit 0) or the usage error (exit 2) itself.
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "pikaci: cannot start: {e}");
            return ExitCode::from(EXIT_INTERNAL);
        }
    };
    let color_errors = cli.color.enabled(
        std::env::var("NO_COLOR").ok().as_deref(),
        std::io::stderr().is_terminal(),
    );
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        // Whoever read stdout has gone (`| head -1`): nothing to say.
        Err(e) if e.is_broken_pipe() => ExitCode::from(e.exit_code()),
        Err(e) => {
            let _ = std::io::stderr().write_all(report(&e, color_errors).as_bytes());
            ExitCode::from(e.exit_code())
        }
    }
}

/// What stderr shows for an error: a pipeline error with its source line
/// and caret, like rustc; any other as `pikaci: ...` (escaped, since errors
/// may quote a run record) and a `help:` line when there is a hint.
fn report(e: &CliError, color: bool) -> String {
    if let CliError::ConfigAt { error, text } = e {
        return format!("{}\n", diagnostic::pipeline_error(error, text, color));
    }
    let mut text = format!(
        "pikaci: {}\n",
        pikaci_core::escape_controls(&error_chain(e))
    );
    if let Some(hint) = e.hint() {
        text.push_str(&format!(
            "  help: {}\n",
            pikaci_core::escape_controls(&hint)
        ));
    }
    text
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<u8, CliError> {
    if let Command::Generate(g) = &cli.command {
        return cmd_admin::generate(g);
    }
    let ctx = Context::from_env(cli.state_root.as_deref(), cli.color)?;
    match cli.command {
        Command::Run(opts) => cmd_run::run(&ctx, opts).await,
        Command::Rerun(opts) => cmd_run::rerun(&ctx, opts).await,
        Command::List(opts) => cmd_read::list(&ctx, &opts),
        Command::Status(opts) => cmd_read::status(&ctx, &opts),
        Command::Logs(opts) => cmd_read::logs(&ctx, &opts).await,
        Command::PreparedOutputs(opts) => cmd_read::prepared_outputs(&ctx, &opts),
        Command::Gc(opts) => cmd_admin::gc(&ctx, &opts),
        Command::Du(opts) => cmd_admin::du(&ctx, &opts),
        Command::Incus(IncusCommand::Plan(opts)) => cmd_incus::plan(&ctx, &opts),
        Command::Incus(IncusCommand::Doctor(opts)) => cmd_incus::doctor_cmd(&ctx, &opts).await,
        Command::Incus(IncusCommand::Gc(opts)) => cmd_incus::gc(&ctx, &opts).await,
        Command::Generate(g) => cmd_admin::generate(&g),
        Command::Targets(opts) => cmd_targets::targets(&ctx.cwd, &opts),
    }
}

/// The error and its causes, `: `-separated, without repeating a cause that
/// the message already shows.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

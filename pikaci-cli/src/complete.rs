//! Completions that know this repository. The shell script `pikaci generate
//! completions SHELL` prints calls `pikaci` back (with `PIKACI_COMPLETE` set)
//! for each completion; clap's completion engine answers, asking
//! `candidates` for the values of run, job and target arguments.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::env::{Bash, Elvish, EnvCompleter, Fish, Powershell, Zsh};

use crate::args::Cli;

/// The variable that turns a run of `pikaci` into a completion request.
pub const COMPLETE_ENV: &str = "PIKACI_COMPLETE";

/// Answers a completion request when `PIKACI_COMPLETE` is set (the shell
/// script's call): `Some(exit code)`, else `None` for a normal run.
pub fn dispatch() -> Option<std::process::ExitCode> {
    let completed = clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(COMPLETE_ENV)
        .try_complete(std::env::args_os(), None);
    match completed {
        Ok(false) => None,
        Ok(true) => Some(std::process::ExitCode::SUCCESS),
        // Nothing to print on a broken completion: the shell shows none.
        Err(_) => Some(std::process::ExitCode::FAILURE),
    }
}

/// The script a shell sources to complete `pikaci`.
pub(crate) fn registration(
    shell: clap_complete::Shell,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let completer: &dyn EnvCompleter = match shell {
        clap_complete::Shell::Bash => &Bash,
        clap_complete::Shell::Elvish => &Elvish,
        clap_complete::Shell::Fish => &Fish,
        clap_complete::Shell::PowerShell => &Powershell,
        clap_complete::Shell::Zsh => &Zsh,
        // A shell clap adds later: its static script (no ids).
        _ => {
            clap_complete::generate(shell, &mut Cli::command(), "pikaci", out);
            return Ok(());
        }
    };
    completer.write_registration(COMPLETE_ENV, "pikaci", "pikaci", "pikaci", out)
}

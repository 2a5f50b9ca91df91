//! Completions that know this repository: run ids from the state root, job
//! and target ids from `./pikaci.toml`. The shell script `pikaci generate
//! completions SHELL` prints calls `pikaci` back (with `PIKACI_COMPLETE` set)
//! for each completion, and clap's completion engine asks these functions
//! for the values of run, job and target arguments.

use std::io::Write;

use camino::Utf8PathBuf;
use clap::CommandFactory;
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::{Bash, Elvish, EnvCompleter, Fish, Powershell, Zsh};
use pikaci_core::Pipeline;
use pikaci_core::contract::STATE_ROOT_ENV;
use pikaci_store::Store;

use crate::args::Cli;
use crate::context::{DEFAULT_PIPELINE, resolve_state_root};
use crate::runs::{LATEST, LATEST_FAILED};

/// The variable that turns a run of `pikaci` into a completion request.
pub const COMPLETE_ENV: &str = "PIKACI_COMPLETE";
/// How many run ids are offered, newest first.
const MAX_RUNS: usize = 200;

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

/// `latest`, `latest-failed` and the newest run ids of the state root
/// (`$PIKACI_STATE_ROOT`, else `./.pikaci`).
pub(crate) fn run_ids() -> Vec<CompletionCandidate> {
    let mut out = vec![
        CompletionCandidate::new(LATEST).help(Some("the newest run".into())),
        CompletionCandidate::new(LATEST_FAILED).help(Some("the newest failed run".into())),
    ];
    let Ok(cwd) = crate::context::current_dir() else {
        return out;
    };
    let env = std::env::var(STATE_ROOT_ENV).ok();
    let store = Store::open(resolve_state_root(None, env.as_deref(), &cwd));
    for id in store.list_runs(None, MAX_RUNS).unwrap_or_default() {
        out.push(CompletionCandidate::new(id.as_str()));
    }
    out
}

/// The job ids of `./pikaci.toml`, with their descriptions.
pub(crate) fn job_ids() -> Vec<CompletionCandidate> {
    pipeline()
        .map(|p| {
            p.jobs
                .iter()
                .map(|j| {
                    let help = (!j.description.is_empty()).then(|| j.description.clone().into());
                    CompletionCandidate::new(j.id.as_str()).help(help)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The target ids of `./pikaci.toml`, with their titles or descriptions.
pub(crate) fn target_ids() -> Vec<CompletionCandidate> {
    pipeline()
        .map(|p| {
            p.targets
                .iter()
                .map(|t| {
                    let text = t.title.clone().unwrap_or_else(|| t.description.clone());
                    let help = (!text.is_empty()).then(|| text.into());
                    CompletionCandidate::new(t.id.as_str()).help(help)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `./pikaci.toml`, when it is there and parses.
fn pipeline() -> Option<Pipeline> {
    let path = Utf8PathBuf::from(DEFAULT_PIPELINE);
    let text = std::fs::read_to_string(&path).ok()?;
    Pipeline::parse(&text, &path).ok()
}

//! The values completions offer for run, job and target arguments: run ids
//! from the state root, job and target ids from `./pikaci.toml`.

use camino::Utf8PathBuf;
use clap_complete::engine::CompletionCandidate;
use pikaci_core::Pipeline;
use pikaci_core::contract::STATE_ROOT_ENV;
use pikaci_store::Store;

use crate::context::{DEFAULT_PIPELINE, resolve_state_root};
use crate::runs::{LATEST, LATEST_FAILED};

/// How many run ids are offered, newest first.
const MAX_RUNS: usize = 200;

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

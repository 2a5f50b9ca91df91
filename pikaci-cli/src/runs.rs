//! Which run a command means: an id, `latest`, `latest-failed`, or a unique
//! prefix of an id.

use pikaci_core::{RunId, RunRecord, RunStatus};
use pikaci_store::{Store, StoreError};

use crate::exit::CliError;

/// The newest run.
pub const LATEST: &str = "latest";
/// The newest run that failed (a cancelled or interrupted run failed too).
pub const LATEST_FAILED: &str = "latest-failed";
/// How many candidates an ambiguous prefix lists.
const MAX_CANDIDATES: usize = 10;

/// The run `arg` names, among the runs of `store`. `latest` and
/// `latest-failed` are words, not ids; an id that exists is itself; otherwise
/// `arg` is a prefix that must match exactly one run. Only ids listed from
/// the state root are ever used as paths: `arg` is checked like an id first,
/// so `../x` is refused as before.
pub fn resolve_run(
    store: &Store,
    arg: &str,
    load: impl Fn(&RunId) -> Result<RunRecord, StoreError>,
) -> Result<RunId, CliError> {
    match arg {
        LATEST => newest(store, &load, |_| true)?.ok_or(CliError::NoRuns { failed: false }),
        LATEST_FAILED => newest(store, &load, |r| r.status == RunStatus::Failed)?
            .ok_or(CliError::NoRuns { failed: true }),
        _ => {
            let exact: RunId = crate::context::parse_id("run id", arg)?;
            // Listing order: newest first, so candidates read like `list`.
            let ids = store.list_runs(None, usize::MAX)?;
            if ids.contains(&exact) {
                return Ok(exact);
            }
            let mut matches: Vec<RunId> = ids
                .into_iter()
                .filter(|id| id.as_str().starts_with(arg))
                .collect();
            match matches.len() {
                // Not listed: let the store say what is there (a folder
                // without run.json, nothing at all).
                0 => Ok(exact),
                1 => Ok(matches.remove(0)),
                n => {
                    matches.truncate(MAX_CANDIDATES);
                    Err(CliError::AmbiguousRun {
                        prefix: arg.to_owned(),
                        count: n,
                        candidates: matches,
                    })
                }
            }
        }
    }
}

/// The newest run whose record satisfies `want`. The listing orders runs
/// of one second by id (their random part), so among the runs of the first
/// second holding a match the one created last wins (`created_at` has
/// milliseconds): `latest` right after two quick runs is the second.
fn newest(
    store: &Store,
    load: &impl Fn(&RunId) -> Result<RunRecord, StoreError>,
    want: impl Fn(&RunRecord) -> bool,
) -> Result<Option<RunId>, CliError> {
    let mut best: Option<(RunRecord, RunId)> = None;
    for id in store.list_runs(None, usize::MAX)? {
        if let Some((_, found)) = &best
            && found.stamp() != id.stamp()
        {
            break;
        }
        let Ok(record) = load(&id) else { continue };
        if want(&record)
            && best
                .as_ref()
                .is_none_or(|(b, _)| record.created_at > b.created_at)
        {
            best = Some((record, id));
        }
    }
    Ok(best.map(|(_, id)| id))
}

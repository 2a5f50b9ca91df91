//! How another program runs `pikaci`: where the state root comes from, and
//! the command line that runs a target with JSONL events on stdout.

use crate::ids::TargetId;

/// The environment variable naming the state root (when `--state-root` is not given).
pub const STATE_ROOT_ENV: &str = "PIKACI_STATE_ROOT";

/// The environment variable naming the branch a run records (`git_branch`)
/// when the caller's checkout has a detached HEAD (`run --branch`).
pub const GIT_BRANCH_ENV: &str = "PIKACI_GIT_BRANCH";

/// The arguments (after the program) that run `target` and print its
/// lifecycle events as JSONL on stdout: `run TARGET --output jsonl`.
pub fn run_argv(target: &TargetId) -> Vec<String> {
    vec![
        "run".to_owned(),
        target.to_string(),
        "--output".to_owned(),
        "jsonl".to_owned(),
    ]
}

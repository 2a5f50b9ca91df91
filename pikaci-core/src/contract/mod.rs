//! What other programs may rely on when they run `pikaci`: its exit codes,
//! the variable naming the state root, the command line that runs a target
//! with JSONL events, how long it takes to stop (its jobs' grace, and the
//! grace a program stopping pikaci should give it), how words are quoted
//! for a POSIX shell, and which argvs run pikaci through a wrapper such as
//! `nix run .#pikaci --` ([`pikaci_in_argv`]).
//!
//! ```
//! use pikaci_core::contract::{EXIT_JOB_FAILED, STATE_ROOT_ENV, run_argv, shell_join};
//! use pikaci_core::TargetId;
//!
//! let target: TargetId = "pre-merge".parse()?;
//! assert_eq!(run_argv(&target), ["run", "pre-merge", "--output", "jsonl"]);
//! assert_eq!(STATE_ROOT_ENV, "PIKACI_STATE_ROOT");
//! assert_eq!(EXIT_JOB_FAILED, 1);
//! assert_eq!(shell_join(["echo", "it's"]), r"echo 'it'\''s'");
//! # Ok::<(), pikaci_core::IdError>(())
//! ```

mod exit;
mod grace;
mod invoke;
mod shell;
mod wrapped;

pub use exit::{
    EXIT_BROKEN_PIPE, EXIT_CODES_HELP, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_JOB_FAILED, EXIT_OK,
    EXIT_TERMINATED, EXIT_USAGE, pikaci_failure,
};
pub use grace::{JOB_KILL_GRACE, PIKACI_STOP_GRACE};
pub use invoke::{GIT_BRANCH_ENV, STATE_ROOT_ENV, run_argv};
pub use shell::{shell_join, shell_quote};
pub use wrapped::{WrappedPikaci, WrappedPikaciError, pikaci_in_argv};

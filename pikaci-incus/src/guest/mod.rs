//! The guest side: `pikaci-incus-run`'s contract ([`GuestSpec`], exit codes,
//! [`GuestResult`]) and the code that runs the job inside the VM.

mod run;
mod spec;

pub use run::{GuestOutcome, KILL_GRACE, run, run_until, write_result};
pub use spec::{
    ARTIFACTS_PATH, ENV_GUEST_COMMAND, ENV_GUEST_ROOT, ENV_RUN_AS_ROOT, ENV_TIMEOUT_SECS,
    EXIT_BAD_SPEC, EXIT_CANCELLED, EXIT_GUEST_ERROR, EXIT_TIMEOUT, GUEST_BINARY, GUEST_LOG_FILE,
    GUEST_STATE_PATH, GuestPaths, GuestResult, GuestSpec, GuestSpecError, GuestStatus, PIKACI_GID,
    PIKACI_UID, RESULT_FILE, SNAPSHOT_PATH, STAGED_BUILD_PATH, STAGED_DEPS_PATH,
};

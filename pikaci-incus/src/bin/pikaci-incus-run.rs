//! `pikaci-incus-run`: runs a pikaci job inside an Incus guest.
//!
//! Reads `PIKACI_INCUS_GUEST_COMMAND`, `PIKACI_INCUS_TIMEOUT_SECS` and
//! `PIKACI_INCUS_RUN_AS_ROOT`, runs the command, and exits with its exit code.
//! Exit codes of its own: 64 a variable is missing or bad, 124 timeout,
//! 125 the command could not be run, 143 told to stop (SIGTERM, SIGINT or
//! SIGHUP: the command's process group is stopped first). See `pikaci_incus::guest`.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use camino::Utf8Path;
use jiff::Timestamp;
use pikaci_incus::guest::{
    self, ENV_GUEST_ROOT, EXIT_BAD_SPEC, GuestPaths, GuestResult, GuestSpec, GuestStatus,
};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

fn main() -> ExitCode {
    let env: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let code = match GuestSpec::from_env(&env) {
        Ok(spec) => {
            // Told to stop (`incus exec` passes SIGTERM on when the host
            // cancels the job): the command is stopped, not this process.
            // Caught, not blocked, so the command starts with default
            // dispositions and an empty signal mask.
            let stop = Arc::new(AtomicBool::new(false));
            for signal in [SIGTERM, SIGINT, SIGHUP] {
                let _ = signal_hook::flag::register(signal, Arc::clone(&stop));
            }
            guest::run_until(&spec, Box::new(std::io::stdout()), &stop).exit_code
        }
        Err(e) => {
            let message = format!("pikaci-incus-run: {e}");
            println!("{message}");
            let _ = writeln!(std::io::stderr(), "{message}");
            // Best effort: the host reads result.json to tell a guest error
            // from a failing command.
            let root = env
                .get(ENV_GUEST_ROOT)
                .map(Utf8Path::new)
                .filter(|r| r.is_absolute());
            let paths = GuestPaths::under(root);
            let result = GuestResult {
                status: GuestStatus::Error,
                exit_code: None,
                finished_at: Timestamp::now(),
                message: Some(e.to_string()),
            };
            let _ = std::fs::create_dir_all(&paths.artifacts);
            let _ = std::fs::write(paths.guest_log(), format!("{message}\n"));
            let _ = guest::write_result(&paths, &result);
            EXIT_BAD_SPEC
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

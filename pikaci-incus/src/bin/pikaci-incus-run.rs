//! `pikaci-incus-run`: runs a pikaci job inside an Incus guest.
//!
//! Reads `PIKACI_INCUS_GUEST_COMMAND`, `PIKACI_INCUS_TIMEOUT_SECS` and
//! `PIKACI_INCUS_RUN_AS_ROOT`, runs the command, and exits with its exit code.
//! Exit codes of its own: 64 a variable is missing or bad, 124 timeout,
//! 125 the command could not be run. See `pikaci_incus::guest`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use camino::Utf8Path;
use jiff::Timestamp;
use pikaci_incus::guest::{
    self, ENV_GUEST_ROOT, EXIT_BAD_SPEC, GuestPaths, GuestResult, GuestSpec, GuestStatus,
};

fn main() -> ExitCode {
    let env: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let code = match GuestSpec::from_env(&env) {
        Ok(spec) => guest::run(&spec, Box::new(std::io::stdout())).exit_code,
        Err(e) => {
            let message = format!("pikaci-incus-run: {e}");
            println!("{message}");
            eprintln!("{message}");
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

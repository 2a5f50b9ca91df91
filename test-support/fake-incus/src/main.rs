//! `fake-incus`: a stand-in for the `incus` CLI in tests (see `cli`).

mod args;
mod checks;
mod cli;
mod guest;
mod state;

use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match cli::run(&argv) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) => {
            // Real Incus prints `Error: ...` on stderr and exits 1.
            eprintln!("Error: {e:#}");
            ExitCode::from(1)
        }
    }
}

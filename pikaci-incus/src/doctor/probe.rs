//! How a check asks Incus: [`Doctor`] runs one `incus` command at a time
//! (bounded), reads `incus query` answers, and collects the [`Check`]s with
//! the fix Incus's own words call for.

use std::time::Duration;

use serde_json::Value;

use super::report::Check;
use crate::command::IncusCommand;
use crate::error::IncusError;
use crate::hint::{Diagnosis, diagnose};
use crate::plan::client;
use crate::runner::{CommandOutput, CommandRunner};
use crate::settings::IncusSettings;

/// Longest a single check may take (a remote that does not answer).
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// The settings checked, the runner that asks Incus, and the checks so far.
pub(super) struct Doctor<'a> {
    pub(super) s: &'a IncusSettings,
    pub(super) runner: &'a dyn CommandRunner,
    pub(super) checks: Vec<Check>,
}

/// Percent-encodes what cannot stand in one segment of an API path.
pub(super) fn segment(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Doctor<'_> {
    pub(super) async fn run_cmd(&self, cmd: &IncusCommand) -> Result<CommandOutput, IncusError> {
        let limit = self.s.command_timeout.min(CHECK_TIMEOUT);
        match tokio::time::timeout(limit, self.runner.run(cmd)).await {
            Ok(r) => r,
            Err(_) => Ok(CommandOutput {
                code: None,
                stdout: Vec::new(),
                stderr: format!(
                    "Error: no answer within {}s (unable to connect)",
                    limit.as_secs()
                )
                .into_bytes(),
            }),
        }
    }

    /// `incus ARGS...` with the client environment, wrapped for sudo/ssh.
    pub(super) fn incus(&self, args: &[&str]) -> IncusCommand {
        client(self.s, args.iter().copied())
    }

    /// `incus query [REMOTE:]PATH` (which takes no `--project`: the project
    /// goes in the path): the JSON, or what Incus said.
    pub(super) async fn query(&self, path: &str) -> Result<Value, String> {
        let cmd = self.incus(&["query", &self.s.on_remote(path)]);
        match self.run_cmd(&cmd).await {
            Ok(out) if out.success() => {
                serde_json::from_slice(&out.stdout).map_err(|e| format!("unexpected answer: {e}"))
            }
            Ok(out) => Err(out.error_text()),
            Err(e) => Err(e.to_string()),
        }
    }

    pub(super) fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    pub(super) fn failed(
        &mut self,
        name: &'static str,
        detail: String,
        said: &str,
        fallback: Diagnosis,
    ) {
        let d = diagnose(said).unwrap_or(fallback);
        let fix = d.fix(self.s);
        self.push(Check::fail(name, detail, fix));
    }

    pub(super) fn skip_rest(&mut self, names: &[&'static str], why: &str) {
        for name in names {
            self.push(Check::skipped(name, why));
        }
    }
}

//! The guest contract: the variables `pikaci-incus-run` reads, the paths it
//! uses, its exit codes and the shape of `/artifacts/result.json`.

use std::collections::BTreeMap;
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Where the image installs the guest binary.
pub const GUEST_BINARY: &str = "/run/current-system/sw/bin/pikaci-incus-run";
/// The job's shell command.
pub const ENV_GUEST_COMMAND: &str = "PIKACI_INCUS_GUEST_COMMAND";
/// The job's timeout in whole seconds (at least 1).
pub const ENV_TIMEOUT_SECS: &str = "PIKACI_INCUS_TIMEOUT_SECS";
/// `1` runs the command as root, `0` as user `pikaci`.
pub const ENV_RUN_AS_ROOT: &str = "PIKACI_INCUS_RUN_AS_ROOT";
/// Test only: a folder standing in for `/` when locating the workspace and
/// the artifacts. Never set inside a real guest.
pub const ENV_GUEST_ROOT: &str = "PIKACI_INCUS_GUEST_ROOT";

/// The snapshot mount inside the guest.
pub const SNAPSHOT_PATH: &str = "/workspace/snapshot";
/// The staged workspace-deps mount.
pub const STAGED_DEPS_PATH: &str = "/staged/linux-rust/workspace-deps";
/// The staged workspace-build mount.
pub const STAGED_BUILD_PATH: &str = "/staged/linux-rust/workspace-build";
/// The writable artifacts mount.
pub const ARTIFACTS_PATH: &str = "/artifacts";
/// Where the guest keeps the job's writable caches, outside the read-only
/// snapshot: `cargo-home`, `cargo-target` and `xdg/{cache,config,data,state}`.
pub const GUEST_STATE_PATH: &str = "/var/tmp/pikaci";
/// File name of the guest log in `/artifacts`.
pub const GUEST_LOG_FILE: &str = "guest.log";
/// File name of the result in `/artifacts`.
pub const RESULT_FILE: &str = "result.json";

/// The user the command runs as unless run-as-root is `1`.
pub const PIKACI_UID: u32 = 1000;
/// Its group.
pub const PIKACI_GID: u32 = 1000;

/// Exit code when a variable is missing or bad (`EX_USAGE`).
pub const EXIT_BAD_SPEC: i32 = 64;
/// Exit code when the command ran past its timeout (as coreutils `timeout`).
pub const EXIT_TIMEOUT: i32 = 124;
/// Exit code when the guest could not run the command at all (artifacts not
/// writable, `bash` missing, ...).
pub const EXIT_GUEST_ERROR: i32 = 125;

/// `pikaci-incus-run`'s exit code when it was told to stop: 128 + SIGTERM.
pub const EXIT_CANCELLED: i32 = 143;

/// How the guest run ended, as written to `result.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuestStatus {
    /// The command exited 0.
    Passed,
    /// The command exited non-zero or was killed by a signal.
    Failed,
    /// The command ran past its timeout and was killed.
    Timeout,
    /// The guest could not run the command (bad variables, spawn failure).
    Error,
    /// The guest was told to stop (SIGTERM, SIGINT or SIGHUP, which `incus
    /// exec` passes on when the job is cancelled): the command's process
    /// group got SIGTERM at once and SIGKILL after the grace.
    Cancelled,
}

/// `/artifacts/result.json`: `{status, exit_code, finished_at, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestResult {
    /// How it ended.
    pub status: GuestStatus,
    /// The command's exit code (`null` when it did not exit by itself).
    pub exit_code: Option<i32>,
    /// When the guest finished.
    pub finished_at: Timestamp,
    /// A one-line summary.
    pub message: Option<String>,
}

/// What is wrong with the guest's environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuestSpecError {
    /// A required variable is not set.
    #[error("{var} is not set")]
    Missing {
        /// The variable.
        var: &'static str,
    },
    /// A variable has a value the guest cannot use.
    #[error("{var} is {value:?}: {reason}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// The value (cut to 200 characters).
        value: String,
        /// Why.
        reason: &'static str,
    },
}

/// Where the guest finds its workspace and writes artifacts and caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestPaths {
    /// The command's working directory.
    pub workspace: Utf8PathBuf,
    /// Where `guest.log` and `result.json` go.
    pub artifacts: Utf8PathBuf,
    /// The writable folder of caches ([`GUEST_STATE_PATH`]).
    pub state: Utf8PathBuf,
}

/// The job's writable cache folders, relative to the guest state folder,
/// each with the variable that points the job at it.
const JOB_DIRS: [(&str, &str); 6] = [
    ("CARGO_HOME", "cargo-home"),
    ("CARGO_TARGET_DIR", "cargo-target"),
    ("XDG_CACHE_HOME", "xdg/cache"),
    ("XDG_CONFIG_HOME", "xdg/config"),
    ("XDG_DATA_HOME", "xdg/data"),
    ("XDG_STATE_HOME", "xdg/state"),
];

impl GuestPaths {
    /// The real paths, or the same paths under a test root.
    pub fn under(root: Option<&Utf8Path>) -> Self {
        let at = |p: &str| match root {
            Some(r) => r.join(p.trim_start_matches('/')),
            None => Utf8PathBuf::from(p),
        };
        Self {
            workspace: at(SNAPSHOT_PATH),
            artifacts: at(ARTIFACTS_PATH),
            state: at(GUEST_STATE_PATH),
        }
    }

    /// The job's environment besides its own `env`, as upstream's image set
    /// it: cargo's home and target folder and the XDG folders, all writable
    /// and outside the read-only snapshot, no incremental builds and no
    /// colour codes in logs.
    pub fn job_env(&self) -> Vec<(&'static str, String)> {
        let mut env: Vec<(&'static str, String)> = JOB_DIRS
            .iter()
            .map(|&(var, rel)| (var, self.state.join(rel).to_string()))
            .collect();
        env.extend([
            ("CARGO_INCREMENTAL", "0".to_owned()),
            ("CARGO_TERM_COLOR", "never".to_owned()),
        ]);
        env
    }

    /// The folders of [`GuestPaths::job_env`] that the guest makes (and
    /// gives to the job's user) before the command starts.
    pub fn job_dirs(&self) -> Vec<Utf8PathBuf> {
        JOB_DIRS
            .iter()
            .map(|&(_, rel)| self.state.join(rel))
            .collect()
    }

    /// `guest.log`.
    pub fn guest_log(&self) -> Utf8PathBuf {
        self.artifacts.join(GUEST_LOG_FILE)
    }

    /// `result.json`.
    pub fn result_json(&self) -> Utf8PathBuf {
        self.artifacts.join(RESULT_FILE)
    }
}

/// Everything the guest needs to run the job, read from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestSpec {
    /// The command, run with `bash --noprofile --norc -lc`.
    pub command: String,
    /// Kill the command after this long.
    pub timeout: Duration,
    /// Run as root instead of `pikaci`.
    pub run_as_root: bool,
    /// Workspace and artifacts locations.
    pub paths: GuestPaths,
}

impl GuestSpec {
    /// Reads the spec from an environment map. Pure: the binary passes
    /// `std::env::vars()` collected into a map.
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Self, GuestSpecError> {
        let get = |var: &'static str| env.get(var).ok_or(GuestSpecError::Missing { var });
        let invalid = |var, value: &str, reason| GuestSpecError::Invalid {
            var,
            value: value.chars().take(200).collect(),
            reason,
        };

        let command = get(ENV_GUEST_COMMAND)?;
        if command.trim().is_empty() {
            return Err(invalid(ENV_GUEST_COMMAND, command, "the command is empty"));
        }
        let raw_timeout = get(ENV_TIMEOUT_SECS)?;
        let timeout = match raw_timeout.trim().parse::<u64>() {
            Ok(n) if n >= 1 => Duration::from_secs(n),
            _ => {
                return Err(invalid(
                    ENV_TIMEOUT_SECS,
                    raw_timeout,
                    "must be a whole number of seconds, at least 1",
                ));
            }
        };
        let raw_root = get(ENV_RUN_AS_ROOT)?;
        let run_as_root = match raw_root.as_str() {
            "1" => true,
            "0" => false,
            other => return Err(invalid(ENV_RUN_AS_ROOT, other, "must be 0 or 1")),
        };
        let root = match env.get(ENV_GUEST_ROOT).filter(|r| !r.is_empty()) {
            Some(r) if Utf8Path::new(r).is_absolute() => Some(Utf8PathBuf::from(r)),
            Some(r) => return Err(invalid(ENV_GUEST_ROOT, r, "must be an absolute path")),
            None => None,
        };
        Ok(Self {
            command: command.clone(),
            timeout,
            run_as_root,
            paths: GuestPaths::under(root.as_deref()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn good() -> BTreeMap<String, String> {
        env(&[
            (ENV_GUEST_COMMAND, "cargo test"),
            (ENV_TIMEOUT_SECS, "60"),
            (ENV_RUN_AS_ROOT, "0"),
        ])
    }

    #[test]
    fn reads_a_complete_environment() {
        let spec = GuestSpec::from_env(&good()).unwrap();
        assert_eq!(spec.command, "cargo test");
        assert_eq!(spec.timeout, Duration::from_secs(60));
        assert!(!spec.run_as_root);
        assert_eq!(spec.paths.workspace, "/workspace/snapshot");
        assert_eq!(spec.paths.result_json(), "/artifacts/result.json");
        assert_eq!(spec.paths.guest_log(), "/artifacts/guest.log");
        let env: BTreeMap<_, _> = spec.paths.job_env().into_iter().collect();
        assert_eq!(env["CARGO_HOME"], "/var/tmp/pikaci/cargo-home");
        assert_eq!(env["CARGO_TARGET_DIR"], "/var/tmp/pikaci/cargo-target");
        assert_eq!(env["CARGO_INCREMENTAL"], "0");
        assert_eq!(env["CARGO_TERM_COLOR"], "never");
        assert_eq!(env["XDG_CACHE_HOME"], "/var/tmp/pikaci/xdg/cache");
        assert_eq!(env["XDG_STATE_HOME"], "/var/tmp/pikaci/xdg/state");
        for (k, v) in &env {
            assert!(!v.starts_with(SNAPSHOT_PATH), "{k} must be writable");
        }
        assert_eq!(spec.paths.job_dirs().len(), 6);
    }

    #[test]
    fn root_and_test_root() {
        let mut e = good();
        e.insert(ENV_RUN_AS_ROOT.into(), "1".into());
        e.insert(ENV_GUEST_ROOT.into(), "/tmp/g".into());
        let spec = GuestSpec::from_env(&e).unwrap();
        assert!(spec.run_as_root);
        assert_eq!(spec.paths.workspace, "/tmp/g/workspace/snapshot");
        assert_eq!(spec.paths.artifacts, "/tmp/g/artifacts");
        assert_eq!(spec.paths.state, "/tmp/g/var/tmp/pikaci");
    }

    #[test]
    fn each_missing_variable_is_named() {
        for var in [ENV_GUEST_COMMAND, ENV_TIMEOUT_SECS, ENV_RUN_AS_ROOT] {
            let mut e = good();
            e.remove(var);
            assert_eq!(
                GuestSpec::from_env(&e),
                Err(GuestSpecError::Missing { var })
            );
        }
    }

    #[test]
    fn bad_values_are_refused() {
        let cases = [
            (ENV_GUEST_COMMAND, "  "),
            (ENV_TIMEOUT_SECS, "0"),
            (ENV_TIMEOUT_SECS, "soon"),
            (ENV_TIMEOUT_SECS, "-5"),
            (ENV_RUN_AS_ROOT, "true"),
            (ENV_RUN_AS_ROOT, ""),
            (ENV_GUEST_ROOT, "relative/root"),
        ];
        for (var, value) in cases {
            let mut e = good();
            e.insert(var.into(), value.into());
            match GuestSpec::from_env(&e) {
                Err(GuestSpecError::Invalid { var: v, .. }) => assert_eq!(v, var),
                other => panic!("{var}={value:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn result_json_shape() {
        let r = GuestResult {
            status: GuestStatus::Timeout,
            exit_code: None,
            finished_at: "2026-03-24T16:12:38Z".parse().unwrap(),
            message: Some("killed after 5s".into()),
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"status": "timeout", "exit_code": null,
                "finished_at": "2026-03-24T16:12:38Z", "message": "killed after 5s"})
        );
        assert_eq!(serde_json::from_value::<GuestResult>(v).unwrap(), r);
    }
}

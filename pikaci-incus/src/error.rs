//! The error of this crate's operations: settings, running commands, gc.

/// What went wrong resolving settings, running an Incus command or collecting
/// instances.
#[derive(Debug, thiserror::Error)]
pub enum IncusError {
    /// A setting (from `[incus]` or the environment) has an unusable value.
    #[error("incus setting `{key}` ({origin}) has value {value:?}: {reason}")]
    InvalidSetting {
        /// The `[incus]` key.
        key: &'static str,
        /// Where the value came from: `pikaci.toml` or the variable's name.
        origin: String,
        /// The value as given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// A job `env` key that cannot be exported in the guest's shell.
    #[error("job `{job}`: env key {key:?} is not a shell variable name")]
    InvalidJobEnv {
        /// The job.
        job: String,
        /// The key.
        key: String,
    },
    /// An instance name that Incus would refuse.
    #[error("invalid instance name {name:?}: {reason}")]
    InvalidInstanceName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The command could not be started at all (program missing, ...).
    #[error("could not run `{program}`")]
    Spawn {
        /// The program.
        program: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Output of a command could not be read or written.
    #[error("i/o on the output of `{program}`")]
    Io {
        /// The program.
        program: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An Incus command exited unsuccessfully.
    #[error("`{command}` failed ({status}): {output}")]
    CommandFailed {
        /// The command line, shell-quoted.
        command: String,
        /// How it exited.
        status: String,
        /// Its stderr (or stdout), trimmed.
        output: String,
    },
    /// `incus list --format json` printed something that is not an instance list.
    #[error("`incus list --format json` printed unexpected output")]
    ListOutput {
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

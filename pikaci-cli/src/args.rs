//! The command line, as clap types. Converted into library values in one place
//! ([`crate::context`]); no handler looks at raw strings.

use camino::Utf8PathBuf;
use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCandidates;

use crate::exit::EXIT_CODES_HELP;
pub use crate::style::ColorChoice;

/// pikaci runs a repository's CI jobs on this machine or in Incus virtual machines or
/// system containers, and keeps every run's record and logs in a state root.
#[derive(Debug, Parser)]
#[command(name = "pikaci", version, after_help = EXIT_CODES_HELP, after_long_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// The state root holding runs. Default: $PIKACI_STATE_ROOT, else ./.pikaci
    #[arg(long, global = true, value_name = "DIR")]
    pub state_root: Option<Utf8PathBuf>,

    /// Colour and symbols: auto (when stdout is a terminal and NO_COLOR is not set), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a target's jobs (or the jobs named with --job, or every job) of pikaci.toml.
    #[command(after_help = EXIT_CODES_HELP)]
    Run(RunOpts),
    /// List runs, newest first.
    List(ListOpts),
    /// Show one run: its status and each job's.
    Status(StatusOpts),
    /// Print a job's logs (all of it, a byte range, or the tail), or follow a running job.
    Logs(LogsOpts),
    /// Run an earlier run's jobs again (all, or only those that did not pass) on the same
    /// bytes, in the snapshot that run kept.
    ///
    /// A rerun runs in the snapshot the original run kept (made again from
    /// runs/RUN_ID/snapshot.manifest and the shared objects, every file checked against its
    /// hash), with the pipeline file as it was in that snapshot, so it runs the same bytes even when the
    /// source tree has changed since, and records rerun_of. A run keeps its snapshot until
    /// gc deletes the run; when it is gone (or the run was made with --discard-snapshot),
    /// rerun refuses with exit code 2, and --from-source runs the same jobs on a new
    /// snapshot of the current source tree instead.
    #[command(after_help = EXIT_CODES_HELP, after_long_help = EXIT_CODES_HELP)]
    Rerun(RerunOpts),
    /// Show what a run prepared for later jobs or runs (runs/RUN/prepared-outputs.json).
    PreparedOutputs(PreparedOutputsOpts),
    /// Delete old runs from the state root, and the kept files no remaining run uses.
    Gc(GcOpts),
    /// List the targets of pikaci.toml, or with --ci the lanes a forge's CI makes of them
    /// and which of them a set of changed files selects.
    #[command(after_help = TARGETS_HELP, after_long_help = TARGETS_HELP)]
    Targets(TargetsOpts),
    /// Show the bytes each run holds alone and shares with other runs.
    Du(DuOpts),
    /// Incus helpers: show the commands a job would run, check the setup, delete leftover instances.
    #[command(subcommand)]
    Incus(IncusCommand),
    /// Print shell completions or the man pages.
    #[command(subcommand)]
    Generate(GenerateCommand),
}

/// How `run` and `rerun` report progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    /// Lines for people: each job starting and finishing, with durations.
    #[default]
    Human,
    /// The final run record as JSON, nothing else on stdout.
    Json,
    /// The lifecycle events, one JSON object per line, nothing else on stdout.
    Jsonl,
}

/// Which log to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// pikaci's account of the job.
    Host,
    /// The job's own output.
    Guest,
    /// Both, host first.
    Both,
}

/// Options shared by `run` and `rerun`.
#[derive(Debug, Args)]
pub struct ExecOpts {
    /// The pipeline file. Default: pikaci.toml in the current folder.
    #[arg(long, value_name = "FILE")]
    pub config: Option<Utf8PathBuf>,
    /// The repository to snapshot and run in. Default: the pipeline file's folder.
    #[arg(long, value_name = "DIR")]
    pub source: Option<Utf8PathBuf>,
    /// How to report progress.
    #[arg(long, value_enum, default_value_t = Output::Human)]
    pub output: Output,
    /// How many independent jobs may run at once.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// Remove the run's snapshot when it ends. By default it is kept in the run's folder
    /// (until gc deletes the run) so `pikaci rerun` can run the same bytes again; a run
    /// without it can only be rerun with --from-source.
    #[arg(long)]
    pub discard_snapshot: bool,
    /// Show this many of the last lines of each failed job's output under it (0: none).
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub failure_lines: u64,
    /// The branch to record for the run (shown by `pikaci list`). Default: the branch the
    /// source has checked out; set it where the checkout's HEAD is detached, as a CI
    /// service's worktree is.
    #[arg(long, env = pikaci_core::contract::GIT_BRANCH_ENV, value_name = "NAME", value_parser = branch_name)]
    pub branch: Option<String>,
    /// The run's snapshot is kept by default; this flag is accepted and changes nothing.
    #[arg(long, hide = true, conflicts_with = "discard_snapshot")]
    pub keep_snapshot: bool,
}

/// `pikaci run`.
#[derive(Debug, Args)]
pub struct RunOpts {
    /// The target to run (one of the targets of pikaci.toml). Without it, --job picks jobs, or every job runs.
    #[arg(add = ArgValueCandidates::new(crate::candidates::target_ids))]
    pub target: Option<String>,
    /// Run only this job (repeatable).
    #[arg(long = "job", value_name = "ID", add = ArgValueCandidates::new(crate::candidates::job_ids))]
    pub job: Vec<String>,
    /// Shared options.
    #[command(flatten)]
    pub exec: ExecOpts,
}

/// `pikaci rerun`.
#[derive(Debug, Args)]
pub struct RerunOpts {
    /// The run to run again: an id, a unique prefix of one, `latest` or `latest-failed`.
    #[arg(add = ArgValueCandidates::new(crate::candidates::run_ids))]
    pub run_id: String,
    /// Only the jobs that did not pass.
    #[arg(long)]
    pub failed: bool,
    /// Snapshot the current source tree (and read its pipeline file) instead of reusing
    /// the run's kept snapshot: the same jobs, on today's code.
    #[arg(long)]
    pub from_source: bool,
    /// Shared options.
    #[command(flatten)]
    pub exec: ExecOpts,
}

/// `pikaci list`.
#[derive(Debug, Args)]
pub struct ListOpts {
    /// How many runs to show.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub limit: usize,
    /// Print the run records as a JSON array.
    #[arg(long)]
    pub json: bool,
}

/// `pikaci status`.
#[derive(Debug, Args)]
pub struct StatusOpts {
    /// The run: an id, a unique prefix of one, `latest` or `latest-failed`.
    #[arg(add = ArgValueCandidates::new(crate::candidates::run_ids))]
    pub run_id: String,
    /// Print the run record as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `pikaci logs`.
#[derive(Debug, Args)]
pub struct LogsOpts {
    /// The run: an id, a unique prefix of one, `latest` or `latest-failed`.
    #[arg(add = ArgValueCandidates::new(crate::candidates::run_ids))]
    pub run_id: String,
    /// The job. Default: the run's first failed job, else its first job.
    #[arg(long, value_name = "ID", add = ArgValueCandidates::new(crate::candidates::job_ids))]
    pub job: Option<String>,
    /// Which log. Default: both, or guest with --follow.
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// Print only the last N lines (not with --offset, --limit or --tail-bytes).
    #[arg(long, value_name = "N", conflicts_with = "tail_bytes")]
    pub tail: Option<u64>,
    /// Print only the last BYTES bytes (not with --offset or --limit).
    #[arg(long, value_name = "BYTES")]
    pub tail_bytes: Option<u64>,
    /// Start at this byte (with --follow: follow from this byte, to resume).
    #[arg(long, value_name = "N")]
    pub offset: Option<u64>,
    /// Print at most this many bytes.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Keep printing as the job writes, until it finishes.
    #[arg(long, short = 'f', conflicts_with_all = ["tail", "tail_bytes", "limit"])]
    pub follow: bool,
    /// Print where each job's logs are, whether they exist and their sizes, as JSON.
    #[arg(long, conflicts_with_all = ["tail", "tail_bytes", "offset", "limit", "follow"])]
    pub metadata_json: bool,
}

/// `pikaci prepared-outputs`.
#[derive(Debug, Args)]
pub struct PreparedOutputsOpts {
    /// The run: an id, a unique prefix of one, `latest` or `latest-failed`.
    #[arg(add = ArgValueCandidates::new(crate::candidates::run_ids))]
    pub run_id: String,
    /// How to print: a table, or the file's JSON (every key, as read).
    #[arg(long, value_enum, default_value_t = ListOutput::Human)]
    pub output: ListOutput,
}

/// `pikaci gc`.
#[derive(Debug, Args)]
pub struct GcOpts {
    /// Keep at most this many of the newest runs.
    #[arg(long, value_name = "N")]
    pub keep_runs: Option<usize>,
    /// Delete runs older than this (e.g. 14d, 12h).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub older_than: Option<std::time::Duration>,
    /// A `running` run whose owner cannot be checked from here (another host,
    /// or a record of an older pikaci) is only deleted when older than this.
    /// A run whose owner is alive on this host is never deleted.
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = humantime::parse_duration)]
    pub stale_after: std::time::Duration,
    /// Say what would be deleted, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// How CI picks lanes, for `pikaci targets --help`.
const TARGETS_HELP: &str = "A target runs in CI when it says so: `ci = { trigger = \"branch\" }` (every branch \
head whose changed files match its `paths`), `ci = { trigger = \"nightly\" }` (the default branch's \
head each day at `[ci] nightly_schedule_utc`, 08:00 UTC by default) or no `ci` (by hand only). \
A lane's paths include the pipeline file itself, so changing it runs every lane; an empty or \
unknown diff runs every lane; `*` in a glob also matches `/`.";

/// How `targets` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ListOutput {
    /// Lines for people.
    #[default]
    Human,
    /// One JSON document.
    Json,
}

/// `pikaci targets`.
#[derive(Debug, Args)]
pub struct TargetsOpts {
    /// The pipeline file. Default: pikaci.toml in the current folder.
    #[arg(long, value_name = "FILE")]
    pub config: Option<Utf8PathBuf>,
    /// Show the lanes CI makes of the targets (branch and nightly), not every target.
    #[arg(long)]
    pub ci: bool,
    /// A changed file, relative to the repository (repeatable): shows which branch lanes it
    /// selects, and why.
    #[arg(long, value_name = "PATH", requires = "ci")]
    pub changed: Vec<String>,
    /// How to print.
    #[arg(long, value_enum, default_value_t = ListOutput::Human)]
    pub output: ListOutput,
}

/// `pikaci du`.
#[derive(Debug, Args)]
pub struct DuOpts {
    /// Show at most this many runs, newest first (the totals count them all).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// `pikaci incus ...`.
#[derive(Debug, Subcommand)]
pub enum IncusCommand {
    /// Print the exact Incus commands a job would run, without running them.
    Plan(IncusPlanOpts),
    /// Check that Incus jobs can run here, and say how to fix what stops them.
    #[command(after_help = DOCTOR_HELP, after_long_help = DOCTOR_HELP)]
    Doctor(IncusDoctorOpts),
    /// Delete leftover pikaci instances older than a given age.
    Gc(IncusGcOpts),
}

/// `pikaci incus plan`.
#[derive(Debug, Args)]
pub struct IncusPlanOpts {
    /// The pipeline file. Default: pikaci.toml in the current folder.
    #[arg(long, value_name = "FILE")]
    pub config: Option<Utf8PathBuf>,
    /// Plan only this job (repeatable). Default: every Incus job.
    #[arg(long = "job", value_name = "ID", add = ArgValueCandidates::new(crate::candidates::job_ids))]
    pub job: Vec<String>,
}

/// What `pikaci incus doctor` checks and its exit codes.
const DOCTOR_HELP: &str = "Checks the incus client, the remote (when `remote` is set), the daemon, the project, \
the profile, the storage pool, the image alias and its type, whether the server runs virtual \
machines and containers, and the cluster member (when `target` is set). Prints one line per \
check and a fix under each failure. Nothing is created or changed.\n\nExit codes:\n  0  jobs can run \
with these settings\n  1  a check failed: jobs cannot run\n  2  usage or configuration error";

/// `pikaci incus doctor`.
#[derive(Debug, Args)]
pub struct IncusDoctorOpts {
    /// The pipeline file (for its incus settings). Default: pikaci.toml in the current folder, if any.
    #[arg(long, value_name = "FILE")]
    pub config: Option<Utf8PathBuf>,
}

/// `pikaci incus gc`.
#[derive(Debug, Args)]
pub struct IncusGcOpts {
    /// The pipeline file (for its incus settings). Default: pikaci.toml in the current folder.
    #[arg(long, value_name = "FILE")]
    pub config: Option<Utf8PathBuf>,
    /// Delete instances created longer ago than this.
    #[arg(long, value_name = "DURATION", default_value = "6h", value_parser = humantime::parse_duration)]
    pub older_than: std::time::Duration,
}

/// `pikaci generate ...`.
#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// Shell completions: a script that calls pikaci back to complete subcommands, flags,
    /// run ids (from the state root) and job and target ids (from ./pikaci.toml).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// The man pages (roff): pikaci's on stdout, or with --out-dir one file
    /// per command (pikaci.1, pikaci-run.1, pikaci-incus-plan.1, ...).
    Man {
        /// Write every page into this folder instead.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<Utf8PathBuf>,
    },
}

/// A branch name to record: one line of printable text, at most 255 bytes
/// (git allows more, but no branch worth listing is longer).
fn branch_name(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("the branch name is empty".into());
    }
    if s.len() > 255 {
        return Err(format!("the branch name is {} bytes; at most 255", s.len()));
    }
    if s.chars().any(char::is_control) {
        return Err("the branch name has a control character".into());
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_run_command_line_parses_as_a_jsonl_run() {
        let target = "pre-merge".parse().unwrap();
        let argv =
            std::iter::once("pikaci".to_owned()).chain(pikaci_core::contract::run_argv(&target));
        let cli = Cli::try_parse_from(argv).unwrap();
        let Command::Run(opts) = cli.command else {
            panic!("not a run: {:?}", cli.command);
        };
        assert_eq!(opts.target.as_deref(), Some("pre-merge"));
        assert!(matches!(opts.exec.output, Output::Jsonl));
    }
}

//! `pikaci`'s exit codes, and what each says about a run.

use crate::process::ChildEnd;
use crate::status::FailureKind;

/// Every job passed (or the command did what it was asked).
pub const EXIT_OK: u8 = 0;
/// A job failed or timed out.
pub const EXIT_JOB_FAILED: u8 = 1;
/// The command line or the pipeline file is wrong.
pub const EXIT_USAGE: u8 = 2;
/// pikaci itself could not do its work (I/O, a corrupt record, a broken environment).
pub const EXIT_INTERNAL: u8 = 3;
/// The run was cancelled by SIGINT (Ctrl-C): 128 + 2, as shells report it.
pub const EXIT_INTERRUPTED: u8 = 130;
/// Stdout was closed by its reader (`pikaci list | head -1`): 128 + SIGPIPE,
/// as git and a shell report a command ended by a broken pipe. Quiet: nothing
/// is printed.
pub const EXIT_BROKEN_PIPE: u8 = 141;
/// The run was cancelled by SIGTERM: 128 + 15.
pub const EXIT_TERMINATED: u8 = 143;

/// The exit codes as `pikaci --help` shows them.
pub const EXIT_CODES_HELP: &str = "Exit codes:\n    0  every job passed (or the command succeeded)\n    1  a job failed or timed out\n    2  usage or configuration error (bad flag, bad id, bad or empty pikaci.toml,\n       unknown run, a rerun whose snapshot is gone)\n    3  pikaci itself could not run (I/O error, corrupt record)\n  130  the run was cancelled by SIGINT (Ctrl-C); 143: by SIGTERM\n  141  stdout was closed by its reader (`pikaci list | head -1`): nothing more is printed";

/// Why a `pikaci run` child that ended this way failed (`None`: it passed).
///
/// Only [`EXIT_JOB_FAILED`] blames the code under test; [`EXIT_INTERRUPTED`]
/// and [`EXIT_TERMINATED`] say pikaci was cancelled. Any other exit
/// ([`EXIT_USAGE`], [`EXIT_INTERNAL`], a panic's 101) and a death by a signal
/// mean pikaci itself could not run the jobs: infrastructure. A timeout or a
/// cancel is what it is, as for any child ([`ChildEnd::failure`]).
///
/// ```
/// use pikaci_core::FailureKind;
/// use pikaci_core::contract::pikaci_failure;
/// use pikaci_core::process::ChildEnd;
///
/// assert_eq!(pikaci_failure(ChildEnd::Exited(Some(0))), None);
/// assert_eq!(pikaci_failure(ChildEnd::Exited(Some(1))), Some(FailureKind::TestFailure));
/// assert_eq!(pikaci_failure(ChildEnd::Exited(Some(3))), Some(FailureKind::Infrastructure));
/// ```
pub fn pikaci_failure(end: ChildEnd) -> Option<FailureKind> {
    match end {
        ChildEnd::Exited(Some(code)) if code == i32::from(EXIT_OK) => None,
        ChildEnd::Exited(Some(code)) if code == i32::from(EXIT_JOB_FAILED) => {
            Some(FailureKind::TestFailure)
        }
        ChildEnd::Exited(Some(code))
            if code == i32::from(EXIT_INTERRUPTED) || code == i32::from(EXIT_TERMINATED) =>
        {
            Some(FailureKind::Cancelled)
        }
        ChildEnd::Exited(_) => Some(FailureKind::Infrastructure),
        ChildEnd::TimedOut | ChildEnd::Cancelled => end.failure(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_failed_job_blames_the_code_under_test() {
        let cases = [
            (ChildEnd::Exited(Some(0)), None),
            (ChildEnd::Exited(Some(1)), Some(FailureKind::TestFailure)),
            (ChildEnd::Exited(Some(2)), Some(FailureKind::Infrastructure)),
            (ChildEnd::Exited(Some(3)), Some(FailureKind::Infrastructure)),
            (ChildEnd::Exited(Some(130)), Some(FailureKind::Cancelled)),
            (ChildEnd::Exited(Some(143)), Some(FailureKind::Cancelled)),
            (
                ChildEnd::Exited(Some(141)),
                Some(FailureKind::Infrastructure),
            ),
            (
                ChildEnd::Exited(Some(101)),
                Some(FailureKind::Infrastructure),
            ),
            (ChildEnd::Exited(None), Some(FailureKind::Infrastructure)),
            (ChildEnd::TimedOut, Some(FailureKind::Timeout)),
            (ChildEnd::Cancelled, Some(FailureKind::Cancelled)),
        ];
        for (end, want) in cases {
            assert_eq!(pikaci_failure(end), want, "{end:?}");
        }
    }
}

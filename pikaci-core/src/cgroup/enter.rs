//! Entering a cgroup before becoming a program, for a child that must not
//! start anything outside the cgroup its parent puts it in.
//!
//! A parent can only move a child into a cgroup once the child exists; a
//! program that forks at once (pikaci starts helpers before its first job)
//! would leave those helpers outside. So the parent starts this binary as
//! `ENTER_ARG --await-cgroup=PATH PROGRAM ARGS...` instead: it waits (at
//! most [`ENTER_LIMIT`]) until `/proc/self/cgroup` names `PATH` as its v2
//! cgroup, then `exec`s the program, which keeps its pid, its process group,
//! its parent-death signal and its descriptors.

use std::ffi::OsString;
use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::process::ExitCode;
use std::time::Duration;

/// The first argument that makes a binary enter a cgroup and then become
/// the program that follows (see [`dispatch`]).
pub const ENTER_ARG: &str = "__pikaci-enter-cgroup";

/// The option naming the v2 cgroup to wait for (as `/proc/self/cgroup`
/// shows it); the job supervisor takes it too.
pub(crate) const AWAIT_CGROUP: &str = "--await-cgroup=";

/// How long it waits to be moved into its cgroup.
pub const ENTER_LIMIT: Duration = Duration::from_secs(10);

/// The exit code when it was never moved (or its arguments are wrong).
pub const NOT_ENTERED_EXIT: u8 = 125;

/// The arguments (after the binary) that make it enter `cgroup`, then run
/// `program` with `args`.
pub fn enter_args<I, S>(cgroup: &str, program: impl Into<OsString>, args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    let mut all: Vec<OsString> = vec![
        ENTER_ARG.into(),
        format!("{AWAIT_CGROUP}{cgroup}").into(),
        program.into(),
    ];
    all.extend(args.into_iter().map(Into::into));
    all
}

/// Enters the cgroup and becomes the program when `args` (as from
/// `std::env::args_os()`) ask for it; `None` otherwise. It returns only
/// when that failed, with the exit code to end with.
pub fn dispatch(args: impl IntoIterator<Item = OsString>) -> Option<ExitCode> {
    let mut args = args.into_iter().skip(1);
    if args.next()? != ENTER_ARG {
        return None;
    }
    Some(enter_main(args.collect()))
}

fn enter_main(args: Vec<OsString>) -> ExitCode {
    let mut args = args.into_iter();
    let cgroup = args
        .next()
        .and_then(|a| Some(a.to_str()?.strip_prefix(AWAIT_CGROUP)?.to_owned()));
    let (Some(cgroup), Some(program)) = (cgroup, args.next()) else {
        let _ = writeln!(
            std::io::stderr(),
            "[pikaci] entering a cgroup needs: --await-cgroup=PATH PROGRAM [ARGS...]"
        );
        return ExitCode::from(NOT_ENTERED_EXIT);
    };
    if let Err(e) = super::await_membership(&cgroup, ENTER_LIMIT) {
        let _ = writeln!(std::io::stderr(), "[pikaci] {e}");
        return ExitCode::from(NOT_ENTERED_EXIT);
    }
    let e = std::process::Command::new(&program).args(args).exec();
    let _ = writeln!(
        std::io::stderr(),
        "[pikaci] could not start {}: {e}",
        program.to_string_lossy()
    );
    ExitCode::from(127)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arguments_name_the_cgroup_then_the_program() {
        let args = enter_args("/lane-1", "/usr/bin/pikaci", ["run", "ci"]);
        assert_eq!(
            args,
            [
                ENTER_ARG,
                "--await-cgroup=/lane-1",
                "/usr/bin/pikaci",
                "run",
                "ci"
            ]
            .map(OsString::from)
        );
    }

    #[test]
    fn only_its_own_first_argument_makes_it_run() {
        assert!(dispatch(["pika-news", "serve"].map(OsString::from)).is_none());
        assert!(dispatch(["pika-news"].map(OsString::from)).is_none());
    }

    #[test]
    fn missing_arguments_are_an_error_not_a_wait() {
        let code = dispatch(["x", ENTER_ARG, "/lane-1"].map(OsString::from));
        assert_eq!(code, Some(ExitCode::from(NOT_ENTERED_EXIT)));
    }
}

//! How a lane's command is started: its program found, wrapped in the job
//! supervisor or the cgroup's entry where the lane needs one, and made into
//! a command with the lane's user, environment, process group and output.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::process::Stdio;

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::contract;
use pikaci_core::process::Stop;
use pikaci_core::process::supervisor::JobSupervisor;

use super::cgroup::LaneCgroup;
use super::lane_spec::{LaneOutcome, LaneRunSpec};
use super::manifest::LaneCommand;
use crate::sandbox::{self, LaneUser, PathDirs};

/// How the lane's command line appears in its log (no server paths).
pub(super) fn shown_command(command: &LaneCommand) -> String {
    match command {
        LaneCommand::Argv(argv) | LaneCommand::PikaciArgv { argv, .. } => {
            contract::shell_join(argv)
        }
        LaneCommand::PikaciTarget(t) => {
            contract::shell_join(std::iter::once("pikaci".to_owned()).chain(contract::run_argv(t)))
        }
    }
}

/// The name the lane's program goes by in its log (no server path).
pub(super) fn shown_program(spec: &LaneRunSpec) -> String {
    match &spec.command {
        LaneCommand::PikaciTarget(_) => "pikaci".into(),
        LaneCommand::Argv(argv) | LaneCommand::PikaciArgv { argv, .. } => {
            let shown = contract::shell_join(argv);
            shown.split(' ').next().unwrap_or("").to_owned()
        }
    }
}

/// The job supervisor the lane's command runs under, if any. An argv lane
/// runs under it, when there is one; a pikaci lane's jobs are under
/// pikaci's own. An argv that runs pikaci (`nix run .#pikaci -- run T`) is
/// started directly too: the run it announces must name the lane's child
/// as its owner, and `nix run` becomes pikaci in the same process.
fn supervisor(spec: &LaneRunSpec) -> Option<&JobSupervisor> {
    match &spec.command {
        LaneCommand::Argv(_) => spec.confinement.supervisor.as_ref(),
        LaneCommand::PikaciTarget(_) | LaneCommand::PikaciArgv { .. } => None,
    }
}

/// The program and its arguments. Started through another program
/// (`setpriv`, the supervisor, the cgroup's entry), the program is found
/// here first, so a missing one is reported as such.
pub(super) fn program_and_args(
    spec: &LaneRunSpec,
    env: &BTreeMap<String, String>,
    log: &File,
) -> Result<(String, Vec<String>), LaneOutcome> {
    let (program, args) = match &spec.command {
        LaneCommand::Argv(argv) | LaneCommand::PikaciArgv { argv, .. } => {
            (argv[0].clone(), argv[1..].to_vec())
        }
        LaneCommand::PikaciTarget(t) => (spec.pikaci_bin.to_string(), contract::run_argv(t)),
    };
    let through_another = spec.confinement.setpriv.is_some()
        || supervisor(spec).is_some()
        || (spec.command.is_pikaci()
            && spec.cgroup.is_some()
            && spec.confinement.supervisor.is_some());
    if !through_another {
        return Ok((program, args));
    }
    let user = spec.confinement.user.as_ref();
    match resolve_program(&program, env.get("PATH"), &spec.worktree, user) {
        Ok(p) => Ok((p.into_string(), args)),
        Err(e) => Err(LaneOutcome::logged(
            log,
            format!("could not start {}: {e}", shown_program(spec)),
        )),
    }
}

/// What is started: the program and its arguments, wrapped in the
/// supervisor or the cgroup's entry where the lane needs one, and the
/// supervisor's control pipe.
pub(super) struct Launch {
    program: OsString,
    args: Vec<OsString>,
    control: Option<(std::io::PipeReader, std::io::PipeWriter)>,
}

pub(super) fn launch(
    spec: &LaneRunSpec,
    program: String,
    args: Vec<String>,
    cgroup: Option<&LaneCgroup>,
) -> Result<Launch, LaneOutcome> {
    if let Some(sup) = supervisor(spec) {
        let pipe = std::io::pipe().map_err(|e| {
            LaneOutcome::infrastructure(format!("cannot make the lane's control pipe: {e}"))
        })?;
        let in_cgroup = cgroup.map(LaneCgroup::path);
        let (sup_program, sup_args) = sup.argv_in(spec.kill_grace, in_cgroup, &program, &args);
        return Ok(Launch {
            program: sup_program.into_os_string(),
            args: sup_args,
            control: Some(pipe),
        });
    }
    // A pikaci lane is pikaci itself (so a cancel reaches it as a signal
    // to its group), but it forks helpers at once: it first waits, as this
    // binary, to be moved into the lane's cgroup, then becomes pikaci, so
    // nothing of it starts outside.
    let (program, args) = match (cgroup, &spec.confinement.supervisor) {
        (Some(cgroup), Some(sup)) if spec.command.is_pikaci() && !cgroup.path().is_empty() => (
            sup.program().as_os_str().to_owned(),
            pikaci_core::cgroup::enter::enter_args(cgroup.path(), program, args),
        ),
        _ => (
            program.into(),
            args.into_iter().map(OsString::from).collect(),
        ),
    };
    Ok(Launch {
        program,
        args,
        control: None,
    })
}

/// The command to spawn (as the lane user, through `setpriv`, in its own
/// process group, with the lane's environment and output) and how
/// `supervise_with` stops it.
pub(super) fn command(
    spec: &LaneRunSpec,
    launch: Launch,
    env: BTreeMap<String, String>,
    cgroup: Option<&LaneCgroup>,
    log: &File,
) -> Result<(tokio::process::Command, Stop), LaneOutcome> {
    let mut cmd = match &spec.confinement.setpriv {
        Some(setpriv) => {
            let mut cmd = tokio::process::Command::new(setpriv);
            cmd.args(["--pdeathsig", "TERM", "--"]).arg(&launch.program);
            cmd
        }
        None => tokio::process::Command::new(&launch.program),
    };
    let under_supervisor = launch.control.is_some();
    let (stdin, stop) = match launch.control {
        // Closing the pipe (a timeout, a cancel, this future dropped, the
        // server gone) tells the supervisor to stop the lane. With a
        // cgroup, everything of the lane is ended at the grace, even under
        // a supervisor the lane has stopped.
        Some((reader, writer)) => match cgroup.and_then(LaneCgroup::killer) {
            Some(kill_all) => (
                Stdio::from(reader),
                Stop::ClosePipeThenKill(writer, kill_all),
            ),
            None => (Stdio::from(reader), Stop::ClosePipe(writer)),
        },
        None => (Stdio::null(), Stop::GroupSignal),
    };
    cmd.args(&launch.args)
        .current_dir(&spec.worktree)
        .env_clear()
        .envs(env)
        .stdin(stdin)
        .process_group(0)
        // A supervisor stops its lane itself once its pipe closes; killing
        // it would leave what it adopted to init.
        .kill_on_drop(!under_supervisor);
    if let Some(user) = &spec.confinement.user {
        user.apply(&mut cmd);
    }
    set_output(spec, &mut cmd, log)?;
    Ok((cmd, stop))
}

/// Where the child's output goes. pikaci's own lines (its events, its
/// errors) go through pika-news, which names the server's folders by words
/// in them; an argv lane's output is the command's own, kept as written.
fn set_output(
    spec: &LaneRunSpec,
    cmd: &mut tokio::process::Command,
    log: &File,
) -> Result<(), LaneOutcome> {
    let (Ok(out_log), Ok(err_log)) = (log.try_clone(), log.try_clone()) else {
        return Err(LaneOutcome::infrastructure(
            "cannot share the lane log".into(),
        ));
    };
    if spec.command.is_pikaci() {
        cmd.env(contract::STATE_ROOT_ENV, &spec.pikaci_state_root);
        if let Some(branch) = &spec.branch {
            cmd.env(contract::GIT_BRANCH_ENV, branch);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    } else {
        cmd.stderr(err_log).stdout(out_log);
    }
    Ok(())
}

/// Where `program` is, as `execvp` would find it on `path`: so a program
/// started through `setpriv` that does not exist is reported as not
/// started, as one started directly is. For a lane user, only what that
/// user may execute counts, found on the lane's own `PATH` (absolute
/// entries only), and a relative path is taken from the worktree, where the
/// lane starts.
fn resolve_program(
    program: &str,
    path: Option<&String>,
    worktree: &Utf8Path,
    user: Option<&LaneUser>,
) -> std::io::Result<Utf8PathBuf> {
    let not_found = || std::io::Error::from(std::io::ErrorKind::NotFound);
    if let Some(user) = user {
        let found = if program.contains('/') {
            Some(worktree.join(program))
                .filter(|p| sandbox::search_path::executable_by(p, (user.uid(), user.gid())))
        } else {
            sandbox::which_as(
                program,
                path.map_or("", String::as_str),
                (user.uid(), user.gid()),
            )
        };
        return found.ok_or_else(not_found);
    }
    if program.contains('/') {
        let p = Utf8PathBuf::from(program);
        return if p.is_file() { Ok(p) } else { Err(not_found()) };
    }
    sandbox::which(program, path.map(String::as_str), PathDirs::RelativeToo).ok_or_else(not_found)
}

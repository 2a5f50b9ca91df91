//! The "inside" of a fake instance: `exec` and `file pull`.
//!
//! The guest's `/` is a folder (`roots/NAME`) where each disk device is a
//! symlink from its `path` to its `source`. `exec ... -- env K=V ...
//! /run/current-system/sw/bin/pikaci-incus-run` runs the real guest binary
//! with `PIKACI_INCUS_GUEST_ROOT` pointing at that folder. When possible the
//! process runs in its own PID namespace (`unshare --pid --fork
//! --kill-child`), so killing it on `delete --force` takes every process of
//! the job with it, as deleting a VM does.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::state::{Instance, Knobs, State, key};

/// Where the image puts the guest binary.
const GUEST_BINARY: &str = "/run/current-system/sw/bin/pikaci-incus-run";
const AGENT_DOWN: &str = "VM agent isn't currently running";

/// SIGKILLs each pid (an `exec` in flight).
pub(crate) fn kill_all(pids: &[i32]) {
    for pid in pids {
        // Already gone is fine.
        let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
    }
}

/// Checks the instance can run commands; counts a failed attempt.
fn agent_ready(
    state: &State,
    knobs: &Knobs,
    project: &str,
    name: &str,
    count: bool,
) -> Result<Instance> {
    // The closure returns the refusal as a value so the probe count is saved.
    let checked = state.with_instances(|all| {
        let Some(inst) = all.get_mut(&key(project, name)) else {
            bail!("Failed to get instance \"{name}\": Instance not found");
        };
        if !inst.running() {
            bail!("Instance is not running");
        }
        if knobs.never_ready {
            return Ok(Err(AGENT_DOWN));
        }
        if inst.probes < knobs.ready_after_probes {
            if count {
                inst.probes += 1;
            }
            return Ok(Err(AGENT_DOWN));
        }
        Ok(Ok(inst.clone()))
    })?;
    checked.map_err(|why| anyhow::anyhow!(why))
}

/// Lays out the guest root: `root/<path>` → `<source>` for each disk.
fn build_root(root: &Path, inst: &Instance) -> Result<()> {
    std::fs::create_dir_all(root)?;
    for cfg in inst.devices.values() {
        let (Some(source), Some(path)) = (cfg.get("source"), cfg.get("path")) else {
            continue;
        };
        let link = root.join(path.trim_start_matches('/'));
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(source, &link)
            .with_context(|| format!("mapping {path} onto {source}"))?;
    }
    Ok(())
}

fn guest_binary() -> Result<PathBuf> {
    let path = match std::env::var_os("FAKE_INCUS_GUEST_BIN") {
        Some(p) => PathBuf::from(p),
        None => std::env::current_exe()?
            .parent()
            .context("the fake's own folder")?
            .join("pikaci-incus-run"),
    };
    if !path.exists() {
        bail!(
            "{} not found: build it (`cargo build -p pikaci-incus`) or set FAKE_INCUS_GUEST_BIN",
            path.display()
        );
    }
    Ok(path)
}

/// Whether `unshare --pid` works here (root, and allowed by the sandbox).
fn can_unshare() -> bool {
    std::env::var_os("FAKE_INCUS_NO_UNSHARE").is_none()
        && nix::unistd::geteuid().is_root()
        && Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// `exec NAME -- COMMAND...`: the exit code of the command.
pub(crate) fn exec(
    state: &State,
    knobs: &Knobs,
    project: &str,
    name: &str,
    command: &[String],
) -> Result<i32> {
    let inst = agent_ready(state, knobs, project, name, true)?;
    if command.is_empty() {
        bail!("Invalid number of arguments");
    }
    let root = state.root_of(project, name);
    build_root(&root, &inst)?;

    let mut env = Vec::new();
    let mut rest = command;
    if rest[0] == "env" {
        rest = &rest[1..];
        while let Some((k, v)) = rest.first().and_then(|w| w.split_once('=')) {
            env.push((k.to_owned(), v.to_owned()));
            rest = &rest[1..];
        }
    }
    let Some((program, args)) = rest.split_first() else {
        bail!("Invalid number of arguments");
    };
    let program = if program == GUEST_BINARY {
        env.push(("PIKACI_INCUS_GUEST_ROOT".into(), root.display().to_string()));
        guest_binary()?
    } else {
        PathBuf::from(program)
    };

    let mut cmd = if can_unshare() {
        let mut c = Command::new("unshare");
        c.args(["--pid", "--fork", "--kill-child", "--"])
            .arg(&program);
        c
    } else {
        Command::new(&program)
    };
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env)
        .current_dir(&root)
        .stdin(Stdio::null());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("Command not found: {}", program.display()))?;
    let pid = i32::try_from(child.id()).context("pid out of range")?;
    let still_there = state.with_instances(|all| {
        Ok(all
            .get_mut(&key(project, name))
            .map(|i| i.exec_pids.push(pid))
            .is_some())
    })?;
    if !still_there {
        kill_all(&[pid]);
    }
    let status = child.wait()?;
    state.with_instances(|all| {
        if let Some(i) = all.get_mut(&key(project, name)) {
            i.exec_pids.retain(|p| *p != pid);
        }
        Ok(())
    })?;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(9)))
}

/// `file pull NAME/PATH DEST`: copies a file from a mapped device.
pub(crate) fn pull(
    state: &State,
    knobs: &Knobs,
    project: &str,
    src: &str,
    dst: &str,
) -> Result<i32> {
    let Some((name, path)) = src.split_once('/') else {
        bail!("Invalid source {src:?}: expected INSTANCE/PATH");
    };
    let inst = agent_ready(state, knobs, project, name, false)?;
    let path = format!("/{path}");
    let host = inst.devices.values().find_map(|cfg| {
        let (source, mount) = (cfg.get("source")?, cfg.get("path")?);
        let rest = path.strip_prefix(mount.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then(|| format!("{source}{rest}"))
    });
    // The stand-in has no root file system: only mapped paths exist.
    let Some(host) = host else {
        bail!("Not Found");
    };
    let Ok(bytes) = std::fs::read(&host) else {
        bail!("Not Found");
    };
    if dst == "-" {
        use std::io::Write;
        std::io::stdout().write_all(&bytes)?;
    } else {
        let mut target = PathBuf::from(dst);
        if target.is_dir() {
            target.push(Path::new(&path).file_name().context("file name")?);
        }
        std::fs::write(target, bytes)?;
    }
    Ok(0)
}

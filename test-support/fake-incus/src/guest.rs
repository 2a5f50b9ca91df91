//! The "inside" of a fake instance: `exec` and `file pull`.
//!
//! The guest's `/` is a folder (`roots/NAME`). `exec ... -- env K=V ...
//! /run/current-system/sw/bin/pikaci-incus-run` runs the real guest binary
//! with `PIKACI_INCUS_GUEST_ROOT` pointing at that folder; `exec -- true` is
//! the readiness probe; nothing else runs (the stand-in has no guest system,
//! and a command meant for a guest must never run on the test host).
//!
//! As root, the guest runs in its own mount and PID namespaces (`unshare
//! --mount --pid --fork --kill-child`): each disk device is bind-mounted at
//! its `path` under the root folder, read-only when `readonly=true`, and
//! killing the process on `delete --force` takes every process of the job
//! with it, as deleting an instance does. Without root each device is a
//! symlink from its `path` to its `source`, and `readonly` is not enforced.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use pikaci_core::contract::shell_quote;

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

/// One disk device: the host folder, where it appears under the root, and
/// whether it is read-only.
struct Disk {
    source: String,
    at: PathBuf,
    readonly: bool,
}

fn disks(root: &Path, inst: &Instance) -> Vec<Disk> {
    inst.devices
        .values()
        .filter_map(|cfg| {
            let (source, path) = (cfg.get("source")?, cfg.get("path")?);
            Some(Disk {
                source: source.clone(),
                at: root.join(path.trim_start_matches('/')),
                readonly: cfg
                    .get("readonly")
                    .is_some_and(|v| matches!(v.as_str(), "true" | "1" | "yes" | "on")),
            })
        })
        .collect()
}

/// Lays out the guest root: a mount point (`mounts`) or a symlink to the
/// source for each disk.
fn build_root(root: &Path, disks: &[Disk], mounts: bool) -> Result<()> {
    std::fs::create_dir_all(root)?;
    for d in disks {
        if let Some(parent) = d.at.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if mounts {
            if d.at.is_symlink() {
                std::fs::remove_file(&d.at)?;
            }
            std::fs::create_dir_all(&d.at)?;
        } else {
            let _ = std::fs::remove_file(&d.at);
            std::os::unix::fs::symlink(&d.source, &d.at)
                .with_context(|| format!("mapping {} onto {}", d.at.display(), d.source))?;
        }
    }
    Ok(())
}

/// The script run inside the new mount namespace: mount each disk, then
/// `exec "$@"`.
fn mount_script(disks: &[Disk]) -> String {
    let mut script = String::from("set -e\n");
    for d in disks {
        let at = d.at.display().to_string();
        script.push_str(&format!(
            "mount --bind {} {}\n",
            shell_quote(&d.source),
            shell_quote(&at)
        ));
        if d.readonly {
            script.push_str(&format!("mount -o remount,bind,ro {}\n", shell_quote(&at)));
        }
    }
    script.push_str("exec \"$@\"\n");
    script
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

/// Whether `unshare --mount --pid` works here (root, and allowed by the sandbox).
fn can_unshare() -> bool {
    std::env::var_os("FAKE_INCUS_NO_UNSHARE").is_none()
        && nix::unistd::geteuid().is_root()
        && Command::new("unshare")
            .args(["--mount", "--pid", "--fork", "--kill-child", "true"])
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
    let namespaces = can_unshare();
    let disks = disks(&root, &inst);
    build_root(&root, &disks, namespaces)?;

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
    } else if program == "true" && args.is_empty() {
        PathBuf::from("true")
    } else {
        bail!("fake-incus runs only `true` and {GUEST_BINARY} in an instance, not {program:?}");
    };

    let mut cmd = if namespaces {
        let mut c = Command::new("unshare");
        c.args([
            "--mount",
            "--propagation",
            "private",
            "--pid",
            "--fork",
            "--kill-child",
            "--",
            "sh",
            "-c",
            &mount_script(&disks),
            "sh",
        ])
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

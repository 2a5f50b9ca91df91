//! The commands pikaci uses, with the checks real Incus makes for them:
//! `init`/`create`, `config device add`, `start`, `stop`, `exec`,
//! `file pull`, `delete`, `list --format json`. Everything else is refused
//! the way the real client refuses an unknown command.
//!
//! Error texts are Incus 6.0.4's, as the real client prints them (the
//! conformance test in pikaci-incus runs the same scenarios against this and
//! a real daemon and compares what pikaci makes of them).

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use jiff::Timestamp;

use crate::args::Args;
use crate::checks::{check_config, check_device, stdin_devices, valid_name};
use crate::guest;
use crate::state::{Instance, State, World, key};

pub(crate) fn run(argv: &[String]) -> Result<i32> {
    let state = State::from_env()?;
    state.log_call(argv)?;
    let args = Args::parse(argv)?;
    let world = state.world()?;
    let project = args.value("project").unwrap_or("default").to_owned();
    let words: Vec<&str> = args.positional.iter().map(String::as_str).collect();
    if words.is_empty() {
        bail!("no command given");
    }
    let cx = Cx {
        state: &state,
        world: &world,
        project: &project,
        args: &args,
    };
    if !world.projects.contains(&project) {
        // Real Incus notices a missing project where it first looks
        // something up in it, and says so in that lookup's words.
        match words.as_slice() {
            ["init" | "create", image, ..] => bail!("Image \"{image}\" not found"),
            ["list" | "ls"] => {
                println!("[]");
                return Ok(0);
            }
            [_, name, ..] => {
                bail!("Failed checking instance exists \"local:{name}\": Project not found")
            }
            _ => bail!("Project not found"),
        }
    }
    match words.as_slice() {
        ["init" | "create", rest @ ..] => cx.init(rest),
        ["config", "device", "add", rest @ ..] => cx.device_add(rest),
        ["start", names @ ..] => cx.start(names),
        ["stop", names @ ..] => cx.stop(names),
        ["exec", name] => guest::exec(&state, &state.knobs()?, &project, name, &args.command),
        ["exec", ..] => bail!("Invalid number of arguments"),
        ["file", "pull", src, dst] => guest::pull(&state, &state.knobs()?, &project, src, dst),
        ["delete" | "rm", names @ ..] => cx.delete(names),
        ["list" | "ls"] => cx.list(),
        [other, ..] => bail!("unknown command \"{other}\" for \"incus\""),
        [] => bail!("no command given"),
    }
}

struct Cx<'a> {
    state: &'a State,
    world: &'a World,
    project: &'a str,
    args: &'a Args,
}

impl Cx<'_> {
    fn init(&self, rest: &[&str]) -> Result<i32> {
        let [image, name] = rest else {
            bail!("Invalid number of arguments");
        };
        if image.contains(':') {
            bail!(
                "The remote \"{}\" doesn't exist",
                image.split(':').next().unwrap_or("")
            );
        }
        let Some(image_type) = self.world.images.get(*image) else {
            bail!("Image \"{image}\" not found");
        };
        if self.args.flag("vm") && image_type != "virtual-machine" {
            bail!("Asked for a VM but image is of type container");
        }
        if !valid_name(name) {
            bail!(
                "Invalid instance name \"{name}\": must be 1-63 letters, digits or hyphens, starting with a letter"
            );
        }
        if let Some(pool) = self.args.value("storage")
            && !self.world.storage_pools.contains(pool)
        {
            bail!("Failed loading storage pool \"{pool}\": Storage pool not found");
        }
        let mut profiles: Vec<String> = self.args.all("profile").to_vec();
        if profiles.is_empty() {
            profiles.push("default".into());
        }
        for p in &profiles {
            if !self.world.profiles.contains(p) {
                bail!("Requested profile \"{p}\" doesn't exist");
            }
        }
        if let Some(target) = self.args.value("target") {
            if self.world.cluster_members.is_empty() {
                bail!("Target only allowed when clustered");
            }
            if !self.world.cluster_members.contains(target) {
                bail!("Cluster member \"{target}\" not found");
            }
        }
        let mut config = BTreeMap::new();
        for kv in self.args.all("config") {
            let Some((k, v)) = kv.split_once('=') else {
                bail!("Bad key=value pair: \"{kv}\"");
            };
            check_config(k, v)?;
            config.insert(k.to_owned(), v.to_owned());
        }
        // Instance configuration on stdin, as `incus init < config.yaml`
        // (pikaci sends JSON, which is YAML too).
        let devices = stdin_devices()?;
        if image_type == "virtual-machine" && !self.world.vm_support {
            bail!(
                "Failed creating instance record: Instance type \"virtual-machine\" is not supported on this server: vhost_vsock kernel module not loaded"
            );
        }
        let (project, name) = (self.project.to_owned(), (*name).to_owned());
        self.state.with_instances(|all| {
            if all.contains_key(&key(&project, &name)) {
                bail!("Failed creating instance record: Instance \"{name}\" already exists");
            }
            all.insert(
                key(&project, &name),
                Instance {
                    name: name.clone(),
                    project: project.clone(),
                    image: (*image).to_owned(),
                    kind: image_type.clone(),
                    status: "Stopped".into(),
                    created_at: Timestamp::now(),
                    profiles,
                    config,
                    devices,
                    probes: 0,
                    exec_pids: Vec::new(),
                },
            );
            Ok(())
        })?;
        println!("Creating {name}");
        Ok(0)
    }

    fn device_add(&self, rest: &[&str]) -> Result<i32> {
        let [name, dev, kind, options @ ..] = rest else {
            bail!("Invalid number of arguments");
        };
        let mut config = BTreeMap::new();
        config.insert("type".to_owned(), (*kind).to_owned());
        for kv in options {
            let Some((k, v)) = kv.split_once('=') else {
                bail!("No value found in \"{kv}\"");
            };
            config.insert(k.to_owned(), v.to_owned());
        }
        check_device(dev, &config)?;
        let (project, name, dev) = (
            self.project.to_owned(),
            (*name).to_owned(),
            (*dev).to_owned(),
        );
        self.state.with_instances(|all| {
            let Some(inst) = all.get_mut(&key(&project, &name)) else {
                bail!("Failed to get instance \"{name}\": Instance not found");
            };
            if inst.devices.contains_key(&dev) {
                bail!("The device already exists");
            }
            let path = config.get("path").cloned();
            if path.is_some()
                && inst
                    .devices
                    .values()
                    .any(|d| d.get("path") == path.as_ref())
            {
                bail!("Invalid devices: More than one disk device uses the same path {path:?}");
            }
            inst.devices.insert(dev.clone(), config);
            Ok(())
        })?;
        println!("Device {dev} added to {name}");
        Ok(0)
    }

    fn start(&self, names: &[&str]) -> Result<i32> {
        let [name] = names else {
            bail!("Invalid number of arguments");
        };
        let knobs = self.state.knobs()?;
        let (project, name) = (self.project.to_owned(), (*name).to_owned());
        self.state.with_instances(|all| {
            let Some(inst) = all.get_mut(&key(&project, &name)) else {
                bail!("Failed to get instance \"{name}\": Instance not found");
            };
            if inst.running() {
                bail!("The instance is already running");
            }
            for (dev, cfg) in &inst.devices {
                if let Some(src) = cfg.get("source").filter(|s| s.starts_with('/'))
                    && !std::path::Path::new(src).exists()
                {
                    bail!("Failed to start device \"{dev}\": Missing source path \"{src}\" for disk \"{dev}\"");
                }
            }
            if let Some(msg) = &knobs.start_error {
                bail!("Failed to start instance \"{name}\": {msg}");
            }
            inst.status = "Running".into();
            Ok(())
        })?;
        Ok(0)
    }

    fn stop(&self, names: &[&str]) -> Result<i32> {
        let [name] = names else {
            bail!("Invalid number of arguments");
        };
        let (project, name) = (self.project.to_owned(), (*name).to_owned());
        self.state.with_instances(|all| {
            let Some(inst) = all.get_mut(&key(&project, &name)) else {
                bail!("Failed to get instance \"{name}\": Instance not found");
            };
            if !inst.running() {
                bail!("The instance is already stopped");
            }
            guest::kill_all(&inst.exec_pids);
            inst.exec_pids.clear();
            inst.status = "Stopped".into();
            inst.probes = 0;
            Ok(())
        })?;
        Ok(0)
    }

    fn delete(&self, names: &[&str]) -> Result<i32> {
        if names.is_empty() {
            bail!("Invalid number of arguments");
        }
        let force = self.args.flag("force");
        let project = self.project.to_owned();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let knobs = self.state.knobs()?;
        let exists = self
            .state
            .with_instances(|all| Ok(names.iter().any(|n| all.contains_key(&key(&project, n)))))?;
        if exists {
            if let Some(block) = &knobs.delete_blocked_by {
                // Outside the lock: other commands go on meanwhile.
                while block.exists() {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
            if let Some(msg) = &knobs.delete_error {
                bail!("Failed deleting instance \"{}\": {msg}", names.join(" "));
            }
        }
        let removed = self.state.with_instances(|all| {
            let mut removed = Vec::new();
            for name in &names {
                let Some(inst) = all.get(&key(&project, name)) else {
                    bail!(
                        "Failed checking instance exists \"local:{name}\": Failed to fetch instance \"{name}\" in project \"{project}\": Instance not found"
                    );
                };
                if inst.running() && !force {
                    bail!(
                        "The instance {name} is currently running, stop it first or pass --force"
                    );
                }
                guest::kill_all(&inst.exec_pids);
                all.remove(&key(&project, name));
                removed.push(name.clone());
            }
            Ok(removed)
        })?;
        for name in removed {
            let _ = std::fs::remove_dir_all(self.state.root_of(&project, &name));
        }
        Ok(0)
    }

    fn list(&self) -> Result<i32> {
        match self.args.value("format") {
            Some("json") => {}
            other => bail!("this stand-in only supports `--format json` (got {other:?})"),
        }
        let project = self.project.to_owned();
        let items = self.state.with_instances(|all| {
            Ok(all
                .values()
                .filter(|i| i.project == project)
                .map(|i| {
                    serde_json::json!({
                        "name": i.name,
                        "project": i.project,
                        "type": i.kind,
                        "status": i.status,
                        "status_code": if i.running() { 103 } else { 102 },
                        "created_at": i.created_at,
                        "profiles": i.profiles,
                        "config": i.config,
                        "devices": i.devices,
                    })
                })
                .collect::<Vec<_>>())
        })?;
        println!("{}", serde_json::to_string(&items)?);
        Ok(0)
    }
}

//! The checks of [`doctor`], each one `incus` command through the runner.

use serde_json::Value;

use super::probe::{Doctor, segment};
use super::report::{Check, DoctorReport};
use crate::command::IncusCommand;
use crate::config::InstanceType;
use crate::error::IncusError;
use crate::hint::Diagnosis;
use crate::runner::CommandRunner;
use crate::settings::{IncusSettings, Transfer};

/// Checks that jobs with `settings` can run: the client, the remote, the
/// daemon, the project, the profile, the storage pool, the image and its
/// type, support for VMs and containers, and the cluster member. Nothing is
/// created or changed.
pub async fn doctor(settings: &IncusSettings, runner: &dyn CommandRunner) -> DoctorReport {
    let mut d = Doctor {
        s: settings,
        runner,
        checks: Vec::new(),
    };
    d.run().await;
    DoctorReport {
        summary: format!(
            "pikaci incus doctor: {} jobs on {}, project `{}`, profile `{}`, image `{}`, {}",
            settings.instance_type.incus_name(),
            settings.server(),
            settings.project,
            settings.profile,
            settings.image_alias,
            match settings.transfer() {
                Transfer::Mounts => "folders mounted read-only",
                Transfer::Push => "folders pushed into each instance",
            }
        ),
        checks: d.checks,
    }
}

impl Doctor<'_> {
    async fn run(&mut self) {
        const AFTER_DAEMON: [&str; 6] = [
            "project",
            "profile",
            "storage pool",
            "image",
            "instance type",
            "cluster target",
        ];
        if !self.client().await {
            self.skip_rest(&["daemon"], "needs the incus client");
            self.skip_rest(&AFTER_DAEMON, "needs the incus client");
            return;
        }
        if self.s.remote.is_some() && !self.remote().await {
            self.skip_rest(&["daemon"], "needs the remote");
            self.skip_rest(&AFTER_DAEMON, "needs the remote");
            return;
        }
        let Some(server) = self.daemon().await else {
            self.skip_rest(&AFTER_DAEMON, "needs the daemon");
            return;
        };
        let project_ok = self.project().await;
        if project_ok {
            self.profile().await;
        } else {
            self.skip_rest(&["profile"], "needs the project");
        }
        self.storage_pool().await;
        if project_ok {
            self.image().await;
        } else {
            self.skip_rest(&["image"], "needs the project");
        }
        self.instance_types(&server).await;
        self.target(&server).await;
    }

    async fn client(&mut self) -> bool {
        let cmd = self.incus(&["version"]);
        match self.run_cmd(&cmd).await {
            Ok(out) if out.success() => {
                let text = String::from_utf8_lossy(&out.stdout);
                let version = text
                    .lines()
                    .find_map(|l| l.strip_prefix("Client version:"))
                    .map_or("", str::trim);
                self.push(Check::pass(
                    "incus client",
                    format!("`{}` {version}", self.s.program),
                ));
                true
            }
            Ok(out) => {
                let said = out.error_text();
                let fix = if out.code == Some(127) || said.contains("not found") {
                    Diagnosis::ClientMissing.fix(self.s)
                } else {
                    format!("make `{} version` work", cmd.display())
                };
                self.push(Check::fail("incus client", said, fix));
                false
            }
            Err(e) => {
                let detail = match &e {
                    IncusError::Spawn { program, source } => {
                        format!("cannot run `{program}`: {source}")
                    }
                    other => other.to_string(),
                };
                let fix = match &e {
                    IncusError::Spawn { program, .. } if program == "ssh" => {
                        "install an ssh client (`apt-get install openssh-client`)".to_owned()
                    }
                    IncusError::Spawn { program, .. } if program == "sudo" => {
                        "install sudo, or set `sudo = false` in [incus]".to_owned()
                    }
                    _ => Diagnosis::ClientMissing.fix(self.s),
                };
                self.push(Check::fail("incus client", detail, fix));
                false
            }
        }
    }

    async fn remote(&mut self) -> bool {
        let name = self.s.remote.clone().unwrap_or_default();
        let cmd = self.incus(&["remote", "list", "--format", "json"]);
        let listed = match self.run_cmd(&cmd).await {
            Ok(out) if out.success() => serde_json::from_slice::<Value>(&out.stdout).ok(),
            _ => None,
        };
        match listed.as_ref().and_then(|l| l.get(&name)) {
            Some(r) => {
                let addr = r.get("Addr").and_then(Value::as_str).unwrap_or("?");
                let auth = r.get("AuthType").and_then(Value::as_str).unwrap_or("?");
                self.push(Check::pass("remote", format!("`{name}`: {addr} ({auth})")));
                true
            }
            None => {
                self.push(Check::fail(
                    "remote",
                    format!("the client has no remote `{name}`"),
                    Diagnosis::RemoteMissing.fix(self.s),
                ));
                false
            }
        }
    }

    async fn daemon(&mut self) -> Option<Value> {
        match self.query("/1.0").await {
            Ok(server) => {
                let env = &server["environment"];
                let detail = format!(
                    "Incus {} on `{}`, drivers: {}{}",
                    env["server_version"].as_str().unwrap_or("?"),
                    env["server_name"].as_str().unwrap_or("?"),
                    env["driver"].as_str().unwrap_or("?"),
                    if env["server_clustered"].as_bool() == Some(true) {
                        ", clustered"
                    } else {
                        ""
                    }
                );
                if server["auth"].as_str() == Some("untrusted") {
                    self.push(Check::fail(
                        "daemon",
                        format!("{detail}; this client is not trusted"),
                        Diagnosis::NotAllowed.fix(self.s),
                    ));
                    return None;
                }
                self.push(Check::pass("daemon", detail));
                Some(server)
            }
            Err(said) => {
                self.failed("daemon", said.clone(), &said, Diagnosis::DaemonUnreachable);
                None
            }
        }
    }

    async fn project(&mut self) -> bool {
        let path = format!("/1.0/projects/{}", segment(&self.s.project));
        match self.query(&path).await {
            Ok(_) => {
                self.push(Check::pass("project", format!("`{}`", self.s.project)));
                true
            }
            Err(said) => {
                let detail = format!("`{}`: {said}", self.s.project);
                self.failed("project", detail, &said, Diagnosis::ProjectMissing);
                false
            }
        }
    }

    async fn profile(&mut self) {
        let path = format!(
            "/1.0/profiles/{}?project={}",
            segment(&self.s.profile),
            segment(&self.s.project)
        );
        match self.query(&path).await {
            Ok(_) => self.push(Check::pass("profile", format!("`{}`", self.s.profile))),
            Err(said) => {
                let detail = format!("`{}`: {said}", self.s.profile);
                self.failed("profile", detail, &said, Diagnosis::ProfileMissing);
            }
        }
    }

    async fn storage_pool(&mut self) {
        let path = format!("/1.0/storage-pools/{}", segment(&self.s.storage_pool));
        match self.query(&path).await {
            Ok(pool) => self.push(Check::pass(
                "storage pool",
                format!(
                    "`{}` ({})",
                    self.s.storage_pool,
                    pool["driver"].as_str().unwrap_or("?")
                ),
            )),
            Err(said) => {
                let detail = format!("`{}`: {said}", self.s.storage_pool);
                self.failed("storage pool", detail, &said, Diagnosis::StoragePoolMissing);
            }
        }
    }

    /// The alias exists, and its image is of the configured type.
    async fn image(&mut self) {
        let path = format!(
            "/1.0/images/aliases/{}?project={}",
            segment(&self.s.image_alias),
            segment(&self.s.project)
        );
        match self.query(&path).await {
            Ok(alias) => {
                let kind = alias["type"].as_str().unwrap_or("?");
                let image_is = kind.parse::<InstanceType>().ok();
                let detail = format!("`{}`: a {kind} image", self.s.image_alias);
                match image_is {
                    Some(t) if t != self.s.instance_type => self.push(Check::fail(
                        "image",
                        detail,
                        Diagnosis::WrongImageType { image_is: t }.fix(self.s),
                    )),
                    _ => self.push(Check::pass("image", detail)),
                }
            }
            Err(said) => {
                let detail = format!("`{}`: {said}", self.s.image_alias);
                self.failed("image", detail, &said, Diagnosis::ImageMissing);
            }
        }
    }

    /// Which instance types the server runs: the configured one must work,
    /// the other is reported for information.
    async fn instance_types(&mut self, server: &Value) {
        let env = &server["environment"];
        let drivers = env["driver"].as_str().unwrap_or("");
        let devices = self.host_devices().await;
        let vm_ok = drivers.split('|').any(|d| d.trim() == "qemu");
        let ct_ok = drivers.split('|').any(|d| d.trim() == "lxc");
        let idmapped = env["kernel_features"]["idmapped_mounts"].as_str() == Some("true");

        let mut vm_detail = if vm_ok {
            "virtual machines: yes (qemu driver)".to_owned()
        } else {
            "virtual machines: no (the daemon has no working qemu driver)".to_owned()
        };
        if let Some(found) = &devices {
            vm_detail.push_str(&format!(
                "; /dev/kvm {}, /dev/vhost-vsock {}",
                if found.contains("/dev/kvm") {
                    "present"
                } else {
                    "missing"
                },
                if found.contains("/dev/vhost-vsock") {
                    "present"
                } else {
                    "missing"
                },
            ));
        }
        let mut ct_detail = if ct_ok {
            "containers: yes (lxc driver)".to_owned()
        } else {
            "containers: no (the daemon has no working lxc driver)".to_owned()
        };
        let ct_mounts_ok = !ct_ok || idmapped || self.s.transfer() == Transfer::Push;
        if ct_ok && !idmapped {
            ct_detail.push_str("; no idmapped mounts (needed for shift=true disks)");
        }

        let (wanted_ok, wanted, other) = match self.s.instance_type {
            InstanceType::Vm => (vm_ok, vm_detail, ct_detail),
            InstanceType::Container => (ct_ok && ct_mounts_ok, ct_detail, vm_detail),
        };
        if wanted_ok {
            self.push(Check::pass("instance type", wanted));
        } else {
            let fix = match self.s.instance_type {
                InstanceType::Vm => {
                    let mut fix = Diagnosis::VmsUnsupported {
                        reason: String::new(),
                    }
                    .fix(self.s);
                    if devices
                        .as_ref()
                        .is_some_and(|d| !d.contains("/dev/vhost-vsock"))
                    {
                        fix.push_str(
                            " (on this host: `modprobe vhost_vsock`, then restart incusd)",
                        );
                    }
                    fix
                }
                InstanceType::Container if !ct_ok => format!(
                    "{} cannot run containers: install LXC support for Incus (the `incus` package \
                     brings it) or use instance_type = \"vm\"",
                    self.s.server()
                ),
                InstanceType::Container => {
                    "use a kernel with idmapped mounts (Linux 5.12 or later), or a remote Incus \
                     server (files are then pushed, not mounted)"
                        .to_owned()
                }
            };
            self.push(Check::fail("instance type", wanted, fix));
        }
        self.push(Check::info(
            "other type",
            format!("{other} (not used by these settings)"),
        ));
    }

    /// `/dev/kvm` and `/dev/vhost-vsock` where Incus runs (this machine, or
    /// the ssh host); `None` through an HTTPS remote, which cannot be asked.
    async fn host_devices(&self) -> Option<String> {
        if self.s.remote.is_some() {
            return None;
        }
        let cmd = IncusCommand::new(
            "sh",
            [
                "-c",
                "for d in /dev/kvm /dev/vhost-vsock; do [ -e \"$d\" ] && echo \"$d\"; done; true",
            ],
        )
        .wrap(false, self.s.remote_host.as_deref());
        match self.run_cmd(&cmd).await {
            Ok(out) if out.success() => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
            _ => None,
        }
    }

    async fn target(&mut self, server: &Value) {
        let Some(target) = self.s.target.clone() else {
            return;
        };
        if server["environment"]["server_clustered"].as_bool() != Some(true) {
            self.push(Check::fail(
                "cluster target",
                format!("`{target}`: {} is not clustered", self.s.server()),
                Diagnosis::NotClustered.fix(self.s),
            ));
            return;
        }
        let path = format!("/1.0/cluster/members/{}", segment(&target));
        match self.query(&path).await {
            Ok(member) => self.push(Check::pass(
                "cluster target",
                format!("`{target}`: {}", member["status"].as_str().unwrap_or("?")),
            )),
            Err(said) => {
                let detail = format!("`{target}`: {said}");
                self.failed("cluster target", detail, &said, Diagnosis::MemberMissing);
            }
        }
    }
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;

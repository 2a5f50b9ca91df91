//! What an Incus error means, read from what Incus said, and how to fix it.
//!
//! The patterns are the messages of the Incus 6.0 client and daemon (each
//! test below quotes a real answer); anything else gets no hint, and the
//! message still quotes Incus.

use std::fmt;

use crate::config::InstanceType;
use crate::settings::{IncusSettings, env_var};

/// Where the Debian package comes from, for "install Incus" fixes.
pub const INSTALL_INCUS: &str = "install Incus: on Debian bookworm add the bookworm-backports suite \
     to apt's sources and run `apt-get install -t bookworm-backports incus`, then start and \
     initialise it (`incus admin init`); see https://linuxcontainers.org/incus/docs/main/installing/";

/// The cause of an Incus failure, as far as its message tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diagnosis {
    /// The `incus` client is not installed (or not on `PATH`).
    ClientMissing,
    /// The daemon does not answer (not started, wrong socket, remote down).
    DaemonUnreachable,
    /// The daemon refuses this user (socket permissions, untrusted client).
    NotAllowed,
    /// The configured remote is not in the client's configuration.
    RemoteMissing,
    /// The project does not exist.
    ProjectMissing,
    /// A profile does not exist.
    ProfileMissing,
    /// The storage pool does not exist.
    StoragePoolMissing,
    /// The image alias does not exist in the project.
    ImageMissing,
    /// The image is of the other instance type.
    WrongImageType {
        /// What the image holds.
        image_is: InstanceType,
    },
    /// This server cannot run virtual machines; Incus says why.
    VmsUnsupported {
        /// Incus's reason (`vhost_vsock kernel module not loaded`).
        reason: String,
    },
    /// `target` is set but the server is not a cluster.
    NotClustered,
    /// `target` names no member of the cluster.
    MemberMissing,
}

/// Reads Incus's answer (stderr and stdout of a failed command).
pub fn diagnose(output: &str) -> Option<Diagnosis> {
    let lower = output.to_lowercase();
    let has = |s: &str| lower.contains(s);
    Some(if has("asked for a vm but image is of type container") {
        Diagnosis::WrongImageType {
            image_is: InstanceType::Container,
        }
    } else if has("asked for a container but image is of type virtual-machine") {
        Diagnosis::WrongImageType {
            image_is: InstanceType::Vm,
        }
    } else if has("is not supported on this server") && has("virtual-machine") {
        let reason = output
            .split("is not supported on this server")
            .nth(1)
            .map(|r| r.trim_start_matches(':').trim().to_owned())
            .unwrap_or_default();
        Diagnosis::VmsUnsupported { reason }
    } else if has("project not found") {
        Diagnosis::ProjectMissing
    } else if has("profile not found") || (has("profile") && has("doesn't exist")) {
        Diagnosis::ProfileMissing
    } else if has("storage pool not found") {
        Diagnosis::StoragePoolMissing
    } else if has("image") && has("not found") {
        Diagnosis::ImageMissing
    } else if has("remote") && has("doesn't exist") {
        Diagnosis::RemoteMissing
    } else if has("only allowed when clustered") || has("must be a cluster") || has("not clustered")
    {
        Diagnosis::NotClustered
    } else if has("cluster member") && has("not found") {
        Diagnosis::MemberMissing
    } else if has("doesn't appear to be started")
        || has("connection refused")
        || has("unable to connect")
        || (has("unix.socket") && has("no such file"))
    {
        Diagnosis::DaemonUnreachable
    } else if (has("permission denied") && has("unix.socket"))
        || has("not authorized")
        || has("certificate signed by unknown authority")
    {
        Diagnosis::NotAllowed
    } else {
        return None;
    })
}

impl Diagnosis {
    /// What to do about it, with the names from `settings`.
    pub fn fix(&self, s: &IncusSettings) -> String {
        let project = &s.project;
        let on = |name: &str| s.on_remote(name);
        match self {
            Self::ClientMissing => INSTALL_INCUS.to_owned(),
            Self::DaemonUnreachable => format!(
                "Incus is not answering on {}: start the daemon (`systemctl start incus`, or \
                 `incusd --group incus-admin` where there is no systemd) and check with \
                 `incus info{}`",
                s.server(),
                s.remote
                    .as_ref()
                    .map(|r| format!(" {r}:"))
                    .unwrap_or_default()
            ),
            Self::NotAllowed => match &s.remote {
                Some(r) => format!(
                    "the server of remote `{r}` does not trust this client: on the server run \
                     `incus config trust add NAME`, then here `incus remote remove {r}` and \
                     `incus remote add {r} https://HOST:8443 --token TOKEN`"
                ),
                None => "this user may not use the Incus socket: add it to the `incus-admin` \
                         group, or set `sudo = true` in [incus]"
                    .to_owned(),
            },
            Self::RemoteMissing => format!(
                "the client knows no remote `{r}`: `incus remote add {r} https://HOST:8443 \
                 --token TOKEN` (a token from `incus config trust add NAME` on the server), as \
                 the user pikaci runs as",
                r = s.remote.as_deref().unwrap_or("NAME")
            ),
            Self::ProjectMissing => format!(
                "create the project: `incus project create {}` and give its default profile a \
                 root disk (`incus profile device add --project {project} default root disk \
                 path=/ pool={}`), or set `project` in [incus]",
                on(project),
                s.storage_pool
            ),
            Self::ProfileMissing => format!(
                "create the profile: `incus profile create --project {project} {}` (it may stay \
                 empty), or set `profile` in [incus]",
                on(&s.profile)
            ),
            Self::StoragePoolMissing => format!(
                "create the storage pool: `incus storage create {} dir`, or set `storage_pool` in \
                 [incus]",
                on(&s.storage_pool)
            ),
            Self::ImageMissing => format!(
                "import an image under the alias `{alias}` into project `{project}`{where_}: \
                 for VMs build nix/incus/pikaci-image.nix (docs/incus-migration-plan.md), for \
                 containers see docs/incus-testing.md; or set `image_alias` in [incus]",
                alias = s.image_alias,
                where_ = s
                    .remote
                    .as_ref()
                    .map(|r| format!(" on remote `{r}`"))
                    .unwrap_or_default()
            ),
            Self::WrongImageType { image_is } => format!(
                "the image `{alias}` holds a {is}, but instance_type is `{want}`: set \
                 `instance_type = \"{is_key}\"` in [incus] (or {var}={is_key}), or import a {want} \
                 image under that alias",
                alias = s.image_alias,
                is = image_is.incus_name(),
                is_key = image_is.as_str(),
                want = s.instance_type.incus_name(),
                var = env_var("instance_type"),
            ),
            Self::VmsUnsupported { reason } => format!(
                "{} cannot run virtual machines{}: run jobs in system containers with \
                 `instance_type = \"container\"` in [incus] (or {}=container) and a container \
                 image, or use a host with KVM and the vhost_vsock module",
                s.server(),
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({reason})")
                },
                env_var("instance_type")
            ),
            Self::NotClustered => format!(
                "`target = \"{}\"` needs an Incus cluster, and {} is not one: remove `target` \
                 from [incus]",
                s.target.as_deref().unwrap_or(""),
                s.server()
            ),
            Self::MemberMissing => format!(
                "the cluster has no member `{}`: pick one of `incus cluster list{}`",
                s.target.as_deref().unwrap_or(""),
                s.remote
                    .as_ref()
                    .map(|r| format!(" {r}:"))
                    .unwrap_or_default()
            ),
        }
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ClientMissing => "the incus client is missing",
            Self::DaemonUnreachable => "the Incus daemon is not reachable",
            Self::NotAllowed => "the Incus daemon refuses this client",
            Self::RemoteMissing => "the Incus remote is not configured",
            Self::ProjectMissing => "the project does not exist",
            Self::ProfileMissing => "the profile does not exist",
            Self::StoragePoolMissing => "the storage pool does not exist",
            Self::ImageMissing => "the image alias does not exist",
            Self::WrongImageType { .. } => "the image is of the other instance type",
            Self::VmsUnsupported { .. } => "virtual machines are not supported there",
            Self::NotClustered => "the server is not a cluster",
            Self::MemberMissing => "the cluster member does not exist",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers of Incus 6.0.4, as printed by the client.
    const ANSWERS: &[(&str, &str)] = &[
        (
            "wrong type",
            "Error: Asked for a VM but image is of type container",
        ),
        ("missing image", "Error: Image \"nope/nope\" not found"),
        (
            "missing project",
            "Error: Failed checking instance exists \"local:inst\": Project not found",
        ),
        (
            "missing profile",
            "Error: Requested profile \"nope-prof\" doesn't exist",
        ),
        (
            "missing pool",
            "Error: Failed loading storage pool \"nope-pool\": Storage pool not found",
        ),
        (
            "no vms",
            "Error: Failed creating instance record: Instance type \"virtual-machine\" is not \
             supported on this server: vhost_vsock kernel module not loaded",
        ),
        ("not clustered", "Error: Target only allowed when clustered"),
        ("no member", "Error: Cluster member \"nomember\" not found"),
        (
            "no daemon",
            "Error: The incus daemon doesn't appear to be started (socket path: /x/unix.socket)",
        ),
        ("no remote", "Error: The remote \"far\" doesn't exist"),
        (
            "socket perms",
            "Error: Get \"http://unix.socket/1.0\": dial unix /var/lib/incus/unix.socket: \
             connect: permission denied",
        ),
    ];

    fn answer(name: &str) -> &'static str {
        ANSWERS.iter().find(|(n, _)| *n == name).unwrap().1
    }

    #[test]
    fn each_answer_is_recognised() {
        let d = |n| diagnose(answer(n));
        assert_eq!(
            d("wrong type"),
            Some(Diagnosis::WrongImageType {
                image_is: InstanceType::Container
            })
        );
        assert_eq!(d("missing image"), Some(Diagnosis::ImageMissing));
        assert_eq!(d("missing project"), Some(Diagnosis::ProjectMissing));
        assert_eq!(d("missing profile"), Some(Diagnosis::ProfileMissing));
        assert_eq!(d("missing pool"), Some(Diagnosis::StoragePoolMissing));
        assert_eq!(
            d("no vms"),
            Some(Diagnosis::VmsUnsupported {
                reason: "vhost_vsock kernel module not loaded".into()
            })
        );
        assert_eq!(d("not clustered"), Some(Diagnosis::NotClustered));
        assert_eq!(d("no member"), Some(Diagnosis::MemberMissing));
        assert_eq!(d("no daemon"), Some(Diagnosis::DaemonUnreachable));
        assert_eq!(d("no remote"), Some(Diagnosis::RemoteMissing));
        assert_eq!(d("socket perms"), Some(Diagnosis::NotAllowed));
        assert_eq!(diagnose("Error: something else entirely"), None);
    }

    #[test]
    fn fixes_name_the_settings() {
        let s = IncusSettings::builder()
            .image_alias("pikaci/test")
            .project("ci")
            .build();
        let wrong = diagnose(answer("wrong type")).unwrap().fix(&s);
        assert!(
            wrong.contains("instance_type = \"container\"")
                && wrong.contains("PIKACI_REMOTE_LINUX_VM_INCUS_INSTANCE_TYPE=container")
                && wrong.contains("`pikaci/test`"),
            "{wrong}"
        );
        let vms = diagnose(answer("no vms")).unwrap().fix(&s);
        assert!(
            vms.contains("vhost_vsock") && vms.contains("container"),
            "{vms}"
        );
        let image = Diagnosis::ImageMissing.fix(&s);
        assert!(
            image.contains("`pikaci/test`") && image.contains("`ci`"),
            "{image}"
        );
        assert!(
            Diagnosis::ClientMissing
                .fix(&s)
                .contains("bookworm-backports")
        );
        let remote = IncusSettings::builder().remote("far").build();
        assert!(
            Diagnosis::RemoteMissing
                .fix(&remote)
                .contains("incus remote add far")
        );
        assert!(
            Diagnosis::ProjectMissing
                .fix(&remote)
                .contains("far:pika-managed-agents")
        );
    }
}

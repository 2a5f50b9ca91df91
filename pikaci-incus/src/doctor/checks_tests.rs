//! The doctor against scripted answers (shaped like Incus 6.0.4's).

use super::*;
use crate::doctor::CheckStatus;
use crate::runner::{FakeReply, ProcessRunner, RecordingRunner};

const SERVER_LXC: &str = r#"{"auth":"trusted","environment":{"driver":"lxc","server_version":"6.0.4",
  "server_name":"vm","server_clustered":false,"kernel_features":{"idmapped_mounts":"true"}}}"#;

/// Answers keyed on the query path (or the subcommand).
fn runner(over: impl Fn(&str) -> Option<FakeReply> + Send + Sync + 'static) -> RecordingRunner {
    RecordingRunner::new(move |cmd| {
        let key = match cmd.program.as_str() {
            "sh" => "devices".to_owned(),
            _ if cmd.args[0] == "query" => cmd.args[1].clone(),
            _ => cmd.args[..2.min(cmd.args.len())].join(" "),
        };
        over(&key).unwrap_or_else(|| {
            if key == "version" {
                FakeReply::stdout("Client version: 6.0.4\nServer version: 6.0.4\n")
            } else if key == "devices" {
                FakeReply::stdout("/dev/kvm\n")
            } else if key == "/1.0" {
                FakeReply::stdout(SERVER_LXC)
            } else if key.starts_with("/1.0/images/aliases/") {
                FakeReply::stdout(r#"{"name":"pikaci/test","type":"container"}"#)
            } else if key.starts_with("/1.0/storage-pools/") {
                FakeReply::stdout(r#"{"driver":"dir"}"#)
            } else {
                FakeReply::stdout("{}")
            }
        })
    })
}

fn container() -> IncusSettings {
    IncusSettings::builder()
        .instance_type(InstanceType::Container)
        .image_alias("pikaci/test")
        .build()
}

fn status(r: &DoctorReport, name: &str) -> CheckStatus {
    r.checks.iter().find(|c| c.name == name).unwrap().status
}

fn fix(r: &DoctorReport, name: &str) -> String {
    r.checks
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.fix.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_working_container_setup_passes_and_says_vms_do_not_work() {
    let r = doctor(&container(), &runner(|_| None)).await;
    assert!(r.jobs_can_run(), "{r}");
    for name in [
        "incus client",
        "daemon",
        "project",
        "profile",
        "storage pool",
        "image",
        "instance type",
    ] {
        assert_eq!(status(&r, name), CheckStatus::Pass, "{name}: {r}");
    }
    let text = r.to_string();
    assert!(text.contains("virtual machines: no"), "{text}");
    assert!(text.contains("/dev/vhost-vsock missing"), "{text}");
    assert!(text.contains("jobs can run"), "{text}");
}

#[tokio::test]
async fn vms_on_a_host_without_them_fail_with_the_container_fix() {
    let s = IncusSettings::builder().image_alias("pikaci/test").build();
    let r = doctor(&s, &runner(|_| None)).await;
    assert!(!r.jobs_can_run());
    assert_eq!(status(&r, "instance type"), CheckStatus::Fail);
    assert!(
        fix(&r, "instance type").contains("instance_type = \"container\""),
        "{r}"
    );
    assert!(
        fix(&r, "instance type").contains("modprobe vhost_vsock"),
        "{r}"
    );
    // The image holds a container while a VM is asked for.
    assert_eq!(status(&r, "image"), CheckStatus::Fail);
}

#[tokio::test]
async fn a_missing_project_skips_what_lives_in_it() {
    let r = doctor(
        &container(),
        &runner(|k| {
            k.starts_with("/1.0/projects/")
                .then(|| FakeReply::fail(1, "Error: Project not found"))
        }),
    )
    .await;
    assert_eq!(status(&r, "project"), CheckStatus::Fail);
    assert!(fix(&r, "project").contains("incus project create pika-managed-agents"));
    assert_eq!(status(&r, "profile"), CheckStatus::Skipped);
    assert_eq!(status(&r, "image"), CheckStatus::Skipped);
    assert_eq!(r.failures().count(), 1, "{r}");
}

#[tokio::test]
async fn a_missing_image_and_an_unreachable_daemon() {
    let r = doctor(
        &container(),
        &runner(|k| {
            k.starts_with("/1.0/images/")
                .then(|| FakeReply::fail(1, "Error: Image alias not found"))
        }),
    )
    .await;
    assert!(
        fix(&r, "image").contains("import an image under the alias `pikaci/test`"),
        "{r}"
    );

    let r = doctor(
        &container(),
        &runner(|k| {
            (k == "/1.0").then(|| {
                FakeReply::fail(
                    1,
                    "Error: The incus daemon doesn't appear to be started (socket path: /x/unix.socket)",
                )
            })
        }),
    )
    .await;
    assert_eq!(status(&r, "daemon"), CheckStatus::Fail);
    assert!(fix(&r, "daemon").contains("start the daemon"));
    assert_eq!(status(&r, "image"), CheckStatus::Skipped);
}

#[tokio::test]
async fn a_remote_and_a_cluster_target_are_checked() {
    let s = IncusSettings::builder()
        .instance_type(InstanceType::Container)
        .image_alias("pikaci/test")
        .remote("far")
        .target("member-9")
        .build();
    let r = doctor(
        &s,
        &runner(|k| match k {
            "remote list" => Some(FakeReply::stdout(
                r#"{"far":{"Addr":"https://127.0.0.1:8444","AuthType":"tls"}}"#,
            )),
            "far:/1.0" => Some(FakeReply::stdout(
                SERVER_LXC.replace(r#""server_clustered":false"#, r#""server_clustered":true"#),
            )),
            k if k.starts_with("far:/1.0/cluster/members/") => {
                Some(FakeReply::fail(1, "Error: Cluster member not found"))
            }
            _ => None,
        }),
    )
    .await;
    assert_eq!(status(&r, "remote"), CheckStatus::Pass, "{r}");
    assert_eq!(status(&r, "cluster target"), CheckStatus::Fail, "{r}");
    assert!(
        fix(&r, "cluster target").contains("incus cluster list far:"),
        "{r}"
    );
    assert!(
        !r.to_string().contains("/dev/kvm"),
        "an HTTPS remote's devices cannot be looked at"
    );

    let r = doctor(
        &s,
        &runner(|k| (k == "remote list").then(|| FakeReply::stdout("{}"))),
    )
    .await;
    assert_eq!(status(&r, "remote"), CheckStatus::Fail);
    assert!(fix(&r, "remote").contains("incus remote add far"));
    assert_eq!(status(&r, "daemon"), CheckStatus::Skipped);
}

#[tokio::test]
async fn no_incus_client_says_what_to_install() {
    let s = IncusSettings::builder()
        .program("/nonexistent/bin/incus")
        .build();
    let r = doctor(&s, &ProcessRunner).await;
    assert!(!r.jobs_can_run());
    assert_eq!(status(&r, "incus client"), CheckStatus::Fail);
    assert!(fix(&r, "incus client").contains("apt-get install -t bookworm-backports incus"));
    assert_eq!(status(&r, "daemon"), CheckStatus::Skipped);
    assert_eq!(r.failures().count(), 1);
}

use camino::Utf8Path;
use pikaci_core::Pipeline;

use super::*;
use crate::settings::{Transfer, model::DEFAULT_MEMORY};

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn defaults_match_the_contract() {
    let s = IncusSettings::resolve(&IncusConfig::default(), &BTreeMap::new()).unwrap();
    assert_eq!(s.project, "pika-managed-agents");
    assert_eq!(s.profile, "pika-agent-dev");
    assert_eq!(s.image_alias, "pikaci/dev");
    assert_eq!(s.instance_type, InstanceType::Vm);
    assert_eq!(s.storage_pool, "default");
    assert_eq!(s.instance_prefix, "pikaci");
    assert_eq!(s.program, "incus");
    assert_eq!((s.cpu, s.memory.as_str()), (2, "4GiB"));
    assert!(!s.sudo && s.remote_host.is_none() && s.remote.is_none() && s.target.is_none());
    assert_eq!(s.transfer(), Transfer::Mounts);
    assert_eq!(s, IncusSettings::default());
}

#[test]
fn config_then_env_override() {
    let config = IncusConfig {
        project: Some("from-toml".into()),
        profile: Some("toml-profile".into()),
        instance_type: Some(InstanceType::Container),
        cpu: Some(4),
        sudo: Some(true),
        readiness_timeout_secs: Some(30),
        ..IncusConfig::default()
    };
    let e = env(&[
        ("PIKACI_REMOTE_LINUX_VM_INCUS_PROJECT", "from-env"),
        ("PIKACI_REMOTE_LINUX_VM_INCUS_IMAGE_ALIAS", "pikaci/next"),
        ("PIKACI_REMOTE_LINUX_VM_INCUS_PROFILE", ""),
        ("PIKACI_REMOTE_LINUX_VM_INCUS_SUDO", "0"),
        ("PIKACI_REMOTE_LINUX_VM_INCUS_MEMORY", "8GiB"),
        ("PIKACI_REMOTE_LINUX_VM_INCUS_TARGET", "node-2"),
        ("PIKACI_REMOTE_LINUX_VM_INCUS_REMOTE_HOST", "ci@builder"),
        ("PIKACI_REMOTE_LINUX_VM_INCUS_STAGED_DEPS_DIR", "/srv/deps"),
        ("PIKACI_REMOTE_LINUX_VM_INCUS_COMMAND_TIMEOUT_SECS", "120"),
        ("TMPDIR", "/var/tmp"),
    ]);
    let s = IncusSettings::resolve(&config, &e).unwrap();
    assert_eq!(s.project, "from-env");
    assert_eq!(s.profile, "toml-profile", "empty env values count as unset");
    assert_eq!(s.image_alias, "pikaci/next");
    assert_eq!(s.instance_type, InstanceType::Container);
    assert_eq!(s.cpu, 4);
    assert!(!s.sudo);
    assert_eq!(s.memory, "8GiB");
    assert_eq!(s.target.as_deref(), Some("node-2"));
    assert_eq!(s.remote_host.as_deref(), Some("ci@builder"));
    assert_eq!(
        s.transfer(),
        Transfer::Push,
        "ssh means the server is elsewhere"
    );
    assert_eq!(s.readiness_timeout, Duration::from_secs(30));
    assert_eq!(s.staged_deps_dir.as_deref(), Some("/srv/deps".into()));
    assert_eq!(s.artifacts_root, "/var/tmp/pikaci-incus");
    assert_eq!(s.command_timeout, Duration::from_secs(120));
}

#[test]
fn instance_type_and_remote_from_the_environment() {
    let config = IncusConfig {
        instance_type: Some(InstanceType::Container),
        ..IncusConfig::default()
    };
    let e = env(&[
        ("PIKACI_REMOTE_LINUX_VM_INCUS_INSTANCE_TYPE", "vm"),
        ("PIKACI_REMOTE_LINUX_VM_INCUS_REMOTE", "ci-cluster"),
    ]);
    let s = IncusSettings::resolve(&config, &e).unwrap();
    assert_eq!(s.instance_type, InstanceType::Vm);
    assert_eq!(s.remote.as_deref(), Some("ci-cluster"));
    assert_eq!(s.transfer(), Transfer::Push);
    assert_eq!(s.on_remote("pikaci-x"), "ci-cluster:pikaci-x");
    assert_eq!(s.server(), "remote `ci-cluster`");
}

#[test]
fn memory_sizes() {
    for ok in [
        "4GiB",
        "512MiB",
        "1073741824",
        "50%",
        "1.5GB",
        DEFAULT_MEMORY,
    ] {
        let e = env(&[("PIKACI_REMOTE_LINUX_VM_INCUS_MEMORY", ok)]);
        assert!(
            IncusSettings::resolve(&IncusConfig::default(), &e).is_ok(),
            "{ok}"
        );
    }
    for bad in ["lots", "4 gigs", "GiB", "4GiBs", "1.5%", ".5GiB", "4..0GiB"] {
        let e = env(&[("PIKACI_REMOTE_LINUX_VM_INCUS_MEMORY", bad)]);
        assert!(
            IncusSettings::resolve(&IncusConfig::default(), &e).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn bad_values_name_key_origin_and_value() {
    let cases = [
        ("PIKACI_REMOTE_LINUX_VM_INCUS_CPU", "four", "cpu"),
        ("PIKACI_REMOTE_LINUX_VM_INCUS_CPU", "0", "cpu"),
        ("PIKACI_REMOTE_LINUX_VM_INCUS_SUDO", "maybe", "sudo"),
        (
            "PIKACI_REMOTE_LINUX_VM_INCUS_INSTANCE_TYPE",
            "lxc",
            "instance_type",
        ),
        ("PIKACI_REMOTE_LINUX_VM_INCUS_REMOTE", "a:b", "remote"),
        ("PIKACI_REMOTE_LINUX_VM_INCUS_REMOTE", "-x", "remote"),
        (
            "PIKACI_REMOTE_LINUX_VM_INCUS_INSTANCE_PREFIX",
            "9lives",
            "instance_prefix",
        ),
        (
            "PIKACI_REMOTE_LINUX_VM_INCUS_INSTANCE_PREFIX",
            "a_b",
            "instance_prefix",
        ),
        (
            "PIKACI_REMOTE_LINUX_VM_INCUS_INSTANCE_PREFIX",
            "averyveryverylongprefix",
            "instance_prefix",
        ),
        (
            "PIKACI_REMOTE_LINUX_VM_INCUS_PROJECT",
            "two words",
            "project",
        ),
        (
            "PIKACI_REMOTE_LINUX_VM_INCUS_REMOTE_HOST",
            "-oProxyCommand=x",
            "remote_host",
        ),
        (
            "PIKACI_REMOTE_LINUX_VM_INCUS_READINESS_TIMEOUT_SECS",
            "0",
            "readiness_timeout_secs",
        ),
        (
            "PIKACI_REMOTE_LINUX_VM_INCUS_STAGED_BUILD_DIR",
            "rel/dir",
            "staged_build_dir",
        ),
    ];
    for (var, value, key) in cases {
        let err =
            IncusSettings::resolve(&IncusConfig::default(), &env(&[(var, value)])).expect_err(var);
        let msg = err.to_string();
        assert!(
            msg.contains(key) && msg.contains(var) && msg.contains(value),
            "{msg}"
        );
    }
}

#[test]
fn a_bad_value_from_the_file_names_its_line() {
    let p = Pipeline::parse(
        "[incus]\nproject = \"p\"\n\ninstance_prefix = \"-x\"\n",
        Utf8Path::new("ci/pikaci.toml"),
    )
    .unwrap();
    let config = IncusConfig::from_section(&p.incus).unwrap();
    let msg = IncusSettings::resolve(&config, &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("instance_prefix") && msg.contains("ci/pikaci.toml:4"),
        "{msg}"
    );
    let in_code = IncusConfig {
        memory: Some("plenty".into()),
        ..IncusConfig::default()
    };
    let msg = IncusSettings::resolve(&in_code, &BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("pikaci.toml [incus]"), "{msg}");
}

#[test]
fn builder_sets_fields() {
    let s = IncusSettings::builder()
        .project("p")
        .cpu(3)
        .sudo(true)
        .remote_host("h")
        .instance_type(InstanceType::Container)
        .client_env("INCUS_CONF", "/etc/x")
        .build();
    assert_eq!(s.project, "p");
    assert_eq!(s.cpu, 3);
    assert!(s.sudo && s.is_remote());
    assert_eq!(s.instance_type, InstanceType::Container);
    assert_eq!(s.client_env["INCUS_CONF"], "/etc/x");
}

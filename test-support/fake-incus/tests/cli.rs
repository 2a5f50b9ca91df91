//! The stand-in enforces what Incus enforces for the commands pikaci uses.

use std::path::Path;
use std::process::{Command, Output};

struct Fake {
    state: tempfile::TempDir,
}

impl Fake {
    fn new() -> Self {
        Self {
            state: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_fake-incus"))
            .args(args)
            .env("FAKE_INCUS_STATE", self.state.path())
            .output()
            .unwrap()
    }

    /// Runs with `--project pika-managed-agents` after the subcommand words.
    fn p(&self, sub: &[&str], rest: &[&str]) -> Output {
        let mut args: Vec<&str> = sub.to_vec();
        args.extend(["--project", "pika-managed-agents"]);
        args.extend(rest);
        self.run(&args)
    }

    fn ok(&self, sub: &[&str], rest: &[&str]) -> String {
        let out = self.p(sub, rest);
        assert!(out.status.success(), "{sub:?} {rest:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    fn err(&self, sub: &[&str], rest: &[&str]) -> String {
        let out = self.p(sub, rest);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{sub:?} {rest:?} should fail: {out:?}"
        );
        let text = String::from_utf8(out.stderr).unwrap();
        assert!(text.starts_with("Error: "), "{text}");
        text
    }

    fn write(&self, file: &str, json: &str) {
        std::fs::write(self.state.path().join(file), json).unwrap();
    }
}

fn src_dir() -> String {
    env!("CARGO_MANIFEST_DIR").to_owned()
}

#[test]
fn init_checks_image_name_duplicates_pool_profiles_and_target() {
    let f = Fake::new();
    assert_eq!(
        f.ok(&["init"], &["pikaci/dev", "vm1", "--vm"]),
        "Creating vm1\n"
    );
    assert!(
        f.err(&["init"], &["pikaci/dev", "vm1", "--vm"])
            .contains("already exists")
    );
    assert!(
        f.err(&["init"], &["nope", "vm2", "--vm"])
            .contains("Image \"nope\" not found")
    );
    assert!(
        f.err(&["init"], &["pikaci/dev", "2bad", "--vm"])
            .contains("Invalid instance name")
    );
    assert!(
        f.err(&["init"], &["pikaci/dev", "vm3", "--storage", "fast"])
            .contains("Storage pool not found")
    );
    assert!(
        f.err(&["init"], &["pikaci/dev", "vm3", "--profile", "x"])
            .contains("Requested profile \"x\" doesn't exist")
    );
    assert!(
        f.err(&["init"], &["pikaci/dev", "vm3", "--target", "m1"])
            .contains("Target only allowed when clustered")
    );
    assert!(
        f.err(&["init"], &["pikaci/dev", "vm3", "-c", "limits.cpu=zero"])
            .contains("limits.cpu")
    );
    assert!(
        f.err(&["init"], &["pikaci/dev", "vm3", "-c", "bogus.key=1"])
            .contains("Unknown configuration key")
    );
    // A missing project shows where Incus first looks into it.
    let out = f.run(&["init", "--project", "elsewhere", "pikaci/dev", "vm4"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Image \"pikaci/dev\" not found"));
    let out = f.run(&["delete", "--project", "elsewhere", "vm4", "--force"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("Failed checking instance exists \"local:vm4\": Project not found")
    );
}

#[test]
fn init_reads_devices_on_stdin_and_vms_can_be_unsupported() {
    use std::io::Write;
    let f = Fake::new();
    let init = |stdin: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fake-incus"))
            .args([
                "init",
                "--project",
                "pika-managed-agents",
                "pikaci/dev",
                "vm1",
                "--vm",
            ])
            .env("FAKE_INCUS_STATE", f.state.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let bad = init(r#"{"devices":{"d":{"type":"disk","source":"/x","path":"/y","bogus":"1"}}}"#);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("Invalid device option \"bogus\""));
    let good = init(&format!(
        r#"{{"devices":{{"src":{{"type":"disk","source":"{}","path":"/src","readonly":"true"}}}}}}"#,
        src_dir()
    ));
    assert!(good.status.success(), "{good:?}");
    let list: serde_json::Value =
        serde_json::from_str(&f.ok(&["list"], &["--format", "json"])).unwrap();
    assert_eq!(list[0]["devices"]["src"]["readonly"], "true");

    f.write(
        "world.json",
        r#"{"projects":["pika-managed-agents"],"images":{"pikaci/dev":"virtual-machine"},
            "profiles":["default"],"storage_pools":["default"],"vm_support":false}"#,
    );
    assert!(
        f.err(&["init"], &["pikaci/dev", "vm2", "--vm"])
            .contains("is not supported on this server: vhost_vsock kernel module not loaded")
    );
}

#[test]
fn targets_need_a_known_member() {
    let f = Fake::new();
    f.write(
        "world.json",
        r#"{"projects":["pika-managed-agents"],"images":{"pikaci/dev":"virtual-machine","ct":"container"},
            "profiles":["default"],"storage_pools":["default"],"cluster_members":["m1"]}"#,
    );
    f.ok(&["init"], &["pikaci/dev", "vm1", "--target", "m1"]);
    assert!(
        f.err(&["init"], &["pikaci/dev", "vm2", "--target", "m2"])
            .contains("Cluster member \"m2\" not found")
    );
    assert!(
        f.err(&["init"], &["ct", "vm3", "--vm"])
            .contains("image is of type container")
    );
}

#[test]
fn devices_are_validated() {
    let f = Fake::new();
    f.ok(&["init"], &["pikaci/dev", "vm1", "--vm"]);
    let src = format!("source={}", src_dir());
    let dev = ["config", "device", "add"];
    f.ok(
        &dev,
        &[
            "vm1",
            "snap",
            "disk",
            &src,
            "path=/workspace/snapshot",
            "readonly=true",
            "io.bus=virtiofs",
            "shift=false",
        ],
    );
    assert!(
        f.err(&dev, &["vm1", "snap", "disk", &src, "path=/other"])
            .contains("already exists")
    );
    assert!(
        f.err(
            &dev,
            &["vm1", "two", "disk", &src, "path=/workspace/snapshot"]
        )
        .contains("same path")
    );
    assert!(
        f.err(&dev, &["vm1", "x", "disk", &src, "path=/x", "colour=blue"])
            .contains("Invalid device option \"colour\"")
    );
    assert!(
        f.err(
            &dev,
            &["vm1", "x", "disk", &src, "path=/x", "readonly=maybe"]
        )
        .contains("readonly")
    );
    assert!(
        f.err(
            &dev,
            &["vm1", "x", "disk", &src, "path=/x", "io.bus=floppy"]
        )
        .contains("io.bus")
    );
    assert!(f.err(&dev, &["vm1", "x", "disk", &src]).contains("path"));
    assert!(
        f.err(&dev, &["vm1", "x", "nic", "network=br0"])
            .contains("Unsupported device type")
    );
    assert!(
        f.err(&dev, &["ghost", "x", "disk", &src, "path=/x"])
            .contains("Instance not found")
    );
}

#[test]
fn exec_needs_a_started_instance_and_a_ready_agent() {
    let f = Fake::new();
    f.ok(&["init"], &["pikaci/dev", "vm1", "--vm"]);
    assert!(
        f.err(&["exec"], &["vm1", "--", "true"])
            .contains("Instance is not running")
    );
    f.ok(&["start"], &["vm1"]);
    assert!(f.err(&["start"], &["vm1"]).contains("already running"));
    f.ok(&["exec"], &["vm1", "--", "true"]);
    // Nothing but the probe and the guest binary runs: a command meant for
    // a guest must never run on the test host.
    assert!(
        f.err(&["exec"], &["vm1", "--", "sh", "-c", "exit 7"])
            .contains("runs only `true`")
    );

    f.write("knobs.json", r#"{"ready_after_probes": 2}"#);
    f.ok(&["init"], &["pikaci/dev", "vm2", "--vm"]);
    f.ok(&["start"], &["vm2"]);
    for _ in 0..2 {
        assert!(
            f.err(&["exec"], &["vm2", "--", "true"])
                .contains("VM agent isn't currently running")
        );
    }
    f.ok(&["exec"], &["vm2", "--", "true"]);
}

#[test]
fn start_needs_existing_disk_sources() {
    let f = Fake::new();
    f.ok(&["init"], &["pikaci/dev", "vm1", "--vm"]);
    f.ok(
        &["config", "device", "add"],
        &["vm1", "gone", "disk", "source=/nonexistent/dir", "path=/x"],
    );
    assert!(f.err(&["start"], &["vm1"]).contains("Missing source path"));
}

#[test]
fn file_pull_reads_mapped_paths_only() {
    let f = Fake::new();
    f.ok(&["init"], &["pikaci/dev", "vm1", "--vm"]);
    let src = format!("source={}", src_dir());
    f.ok(
        &["config", "device", "add"],
        &["vm1", "src", "disk", &src, "path=/src"],
    );
    assert!(
        f.err(&["file", "pull"], &["vm1/src/Cargo.toml", "-"])
            .contains("not running")
    );
    f.ok(&["start"], &["vm1"]);
    let text = f.ok(&["file", "pull"], &["vm1/src/Cargo.toml", "-"]);
    let want = std::fs::read_to_string(Path::new(&src_dir()).join("Cargo.toml")).unwrap();
    assert_eq!(text, want);
    assert!(
        f.err(&["file", "pull"], &["vm1/etc/passwd", "-"])
            .contains("Not Found")
    );
    assert!(
        f.err(&["file", "pull"], &["vm1/src/missing", "-"])
            .contains("Not Found")
    );
}

#[test]
fn delete_needs_force_for_a_running_instance_and_list_shows_state() {
    let f = Fake::new();
    assert!(
        f.err(&["delete"], &["vm1", "--force"])
            .contains("Instance not found")
    );
    f.ok(&["init"], &["pikaci/dev", "vm1", "--vm"]);
    f.ok(&["start"], &["vm1"]);
    let list: serde_json::Value =
        serde_json::from_str(&f.ok(&["list"], &["--format", "json"])).unwrap();
    assert_eq!(list[0]["name"], "vm1");
    assert_eq!(list[0]["status"], "Running");
    assert!(list[0]["created_at"].as_str().is_some());
    assert!(f.err(&["delete"], &["vm1"]).contains("pass --force"));
    f.ok(&["delete"], &["vm1", "--force"]);
    assert_eq!(f.ok(&["list"], &["--format", "json"]).trim(), "[]");
    assert!(f.err(&["list"], &[]).contains("--format json"));
    assert!(f.err(&["launch"], &["x"]).contains("unknown command"));
}

/// Tests count calls by lines of `calls.log` (e.g. the deletes of two
/// exit-cleanup watchers started by the same SIGKILL), so calls made at the
/// same moment must each leave one whole line.
#[test]
fn concurrent_calls_each_log_one_whole_line() {
    let f = Fake::new();
    let long = "x".repeat(2000);
    let children: Vec<_> = (0..48)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_fake-incus"))
                .args([
                    "list",
                    "--project",
                    "pika-managed-agents",
                    "--format",
                    "json",
                ])
                .arg(format!("--marker={i}-{long}"))
                .env("FAKE_INCUS_STATE", f.state.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        c.wait().unwrap();
    }
    let log = std::fs::read_to_string(f.state.path().join("calls.log")).unwrap();
    let mut markers: Vec<usize> = log
        .lines()
        .map(|l| {
            let argv: Vec<String> = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("a torn line in calls.log ({e}): {l:.120}"));
            let m = argv
                .iter()
                .find_map(|a| a.strip_prefix("--marker="))
                .unwrap();
            m.split('-').next().unwrap().parse().unwrap()
        })
        .collect();
    markers.sort_unstable();
    assert_eq!(markers, (0..48).collect::<Vec<_>>());
}

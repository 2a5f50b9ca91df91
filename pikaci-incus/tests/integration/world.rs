//! The real Incus world `scripts/test-setup.sh` makes, and a per-test
//! [`Real`] that names everything it creates after its own prefix, cleans up
//! after itself and checks that nothing of its own is left.
//!
//! A test that finds the world missing fails with the fix; it never skips.

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_incus::{IncusSettings, IncusSettingsBuilder, InstanceType};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::TestDir;

/// The project the setup makes on both daemons.
pub(crate) const PROJECT: &str = "pikaci-tests";
/// The pikaci profile in it.
pub(crate) const PROFILE: &str = "pika-agent-dev";
/// The client remote for the second daemon (HTTPS, one-member cluster).
pub(crate) const REMOTE: &str = "pikaci-test-remote";
/// Its only cluster member.
pub(crate) const MEMBER: &str = "pikaci-member";
/// A virtual-machine image with an empty disk (for what Incus says of VMs).
pub(crate) const VM_IMAGE: &str = "pikaci/test-vm";

const FIX: &str = "run `bash scripts/test-setup.sh` (as root) to install and start Incus and build the test image";

/// The test image's alias: named after the guest's sources and the image
/// recipe, exactly as `scripts/incus-test-setup.sh` names it.
pub(crate) fn image_alias() -> String {
    let root = Utf8Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut guest: Vec<Utf8PathBuf> = std::fs::read_dir(root.join("src/guest"))
        .expect("src/guest")
        .map(|e| Utf8PathBuf::from_path_buf(e.unwrap().path()).unwrap())
        .filter(|p| p.extension() == Some("rs"))
        .collect();
    guest.sort_by(|a, b| a.as_str().as_bytes().cmp(b.as_str().as_bytes()));
    guest.push(root.join("src/bin/pikaci-incus-run.rs"));
    guest.push(root.join("../scripts/incus-container-image.sh"));
    let mut hasher = Sha256::new();
    for file in guest {
        hasher.update(std::fs::read(&file).unwrap_or_else(|e| panic!("{file}: {e}")));
    }
    format!("pikaci/test-{}", &hex::encode(hasher.finalize())[..12])
}

/// `incus ARGS` on the machine's daemon.
pub(crate) fn incus(args: &[&str]) -> Output {
    Command::new("incus")
        .args(args)
        .env_remove("INCUS_DIR")
        .output()
        .unwrap_or_else(|e| panic!("cannot run incus ({e}): {FIX}"))
}

/// `incus query PATH` as JSON, or what Incus said.
pub(crate) fn query(path: &str) -> Result<Value, String> {
    let out = incus(&["query", path]);
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("incus query prints JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// Panics with the fix unless the daemons, the project and the images exist
/// (checked once per test binary; every test that needs them fails alike).
fn require_world() {
    static CHECKED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let checked = CHECKED.get_or_init(|| {
        let alias = image_alias().replace('/', "%2F");
        for (what, path) in [
            ("the Incus daemon", "/1.0".to_owned()),
            ("the test project", format!("/1.0/projects/{PROJECT}")),
            (
                "the test image",
                format!("/1.0/images/aliases/{alias}?project={PROJECT}"),
            ),
            (
                "the test VM image",
                format!("/1.0/images/aliases/pikaci%2Ftest-vm?project={PROJECT}"),
            ),
            ("the test remote", format!("{REMOTE}:/1.0")),
            (
                "the test image on the remote",
                format!("{REMOTE}:/1.0/images/aliases/{alias}?project={PROJECT}"),
            ),
        ] {
            if let Err(said) = query(&path) {
                return Err(format!("{what} is missing ({said}): {FIX}"));
            }
        }
        Ok(())
    });
    if let Err(why) = checked {
        panic!("{why}");
    }
}

/// Whether the machine's daemon runs virtual machines.
pub(crate) fn daemon_runs_vms() -> bool {
    let server = query("/1.0").expect("the daemon answers");
    server["environment"]["driver"]
        .as_str()
        .unwrap_or("")
        .split('|')
        .any(|d| d.trim() == "qemu")
}

/// One test's corner of the shared daemons: a unique instance prefix, its
/// own artifacts root, and checks that it leaves nothing behind.
pub(crate) struct Real {
    pub(crate) dir: TestDir,
    pub(crate) prefix: String,
    pub(crate) artifacts: Utf8PathBuf,
    pub(crate) image: String,
    /// Whether dropping this removes what is left (false for a view).
    owns: bool,
}

impl Real {
    /// `tag` (a few letters) makes the prefix readable in `incus list`.
    pub(crate) fn new(tag: &str) -> Self {
        require_world();
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let salt = std::process::id() ^ (n << 20);
        let tag: String = tag
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(6)
            .collect();
        let prefix = format!("t{tag}-{:06x}", salt & 0xff_ffff).to_ascii_lowercase();
        assert!(prefix.len() <= pikaci_incus::MAX_PREFIX_LEN, "{prefix}");
        let dir = TestDir::new();
        let artifacts = dir.dir("artifacts");
        Self {
            dir,
            prefix,
            artifacts,
            image: image_alias(),
            owns: true,
        }
    }

    /// A view of another `Real`'s instances (by its prefix), for watching
    /// them from another thread; it cleans up nothing.
    pub(crate) fn attach(prefix: &str) -> Self {
        let dir = TestDir::new();
        let artifacts = dir.dir("artifacts");
        Self {
            dir,
            prefix: prefix.to_owned(),
            artifacts,
            image: image_alias(),
            owns: false,
        }
    }

    /// Container settings on the machine's daemon, with this test's prefix.
    pub(crate) fn settings(&self) -> IncusSettingsBuilder {
        IncusSettings::builder()
            .project(PROJECT)
            .profile(PROFILE)
            .image_alias(&self.image)
            .instance_type(InstanceType::Container)
            .instance_prefix(&self.prefix)
            .artifacts_root(&self.artifacts)
            .readiness_timeout(Duration::from_secs(30))
            .readiness_interval(Duration::from_millis(200))
            .launch_grace(Duration::from_secs(20))
            .command_timeout(Duration::from_secs(120))
    }

    /// This test's instances (every name that starts with its prefix) on the
    /// machine's daemon (`remote: None`) or on a remote, as `incus list`
    /// objects.
    pub(crate) fn instances(&self, remote: Option<&str>) -> Vec<Value> {
        self.try_instances(remote)
            .unwrap_or_else(|said| panic!("incus list failed: {said}"))
    }

    /// [`Real::instances`], or what Incus said when it could not list them.
    fn try_instances(&self, remote: Option<&str>) -> Result<Vec<Value>, String> {
        let mut args = vec!["list", "--project", PROJECT, "--format", "json"];
        let target = remote.map(|r| format!("{r}:"));
        if let Some(t) = &target {
            args.push(t);
        }
        let out = Command::new("incus")
            .args(&args)
            .env_remove("INCUS_DIR")
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let list: Vec<Value> = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
        Ok(list
            .into_iter()
            .filter(|i| {
                i["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(&self.prefix))
            })
            .collect())
    }

    /// Waits (bounded) until one of this test's instances is running on
    /// `remote`, and returns it.
    pub(crate) fn wait_running(&self, remote: Option<&str>) -> Value {
        for _ in 0..600 {
            if let Some(i) = self
                .instances(remote)
                .into_iter()
                .find(|i| i["status"] == "Running")
            {
                return i;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no instance of {} came up", self.prefix);
    }

    /// Nothing of this test is left: no instance on either daemon, no
    /// artifacts folder.
    pub(crate) fn assert_clean(&self) {
        for remote in [None, Some(REMOTE)] {
            let left: Vec<_> = self
                .instances(remote)
                .iter()
                .map(|i| i["name"].to_string())
                .collect();
            assert!(
                left.is_empty(),
                "instances left behind on {remote:?}: {left:?}"
            );
        }
        let left: Vec<_> = std::fs::read_dir(&self.artifacts)
            .map(|d| d.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "artifacts folders left behind: {left:?}");
    }
}

impl Drop for Real {
    /// A failed test still removes its instances (the assertion already
    /// told what was left).
    fn drop(&mut self) {
        if !self.owns {
            return;
        }
        for remote in [None, Some(REMOTE)] {
            // Never panic here: a test may be failing already.
            for i in self.try_instances(remote).unwrap_or_default() {
                let name = i["name"].as_str().unwrap_or_default();
                let target = match remote {
                    Some(r) => format!("{r}:{name}"),
                    None => name.to_owned(),
                };
                let _ = Command::new("incus")
                    .args(["delete", "--project", PROJECT, &target, "--force"])
                    .env_remove("INCUS_DIR")
                    .output();
            }
        }
    }
}

/// The disk devices of an instance object that take a folder of the host.
pub(crate) fn host_disks(instance: &Value) -> Vec<String> {
    ["devices", "expanded_devices"]
        .iter()
        .filter_map(|k| instance[k].as_object())
        .flat_map(|devs| devs.values())
        .filter(|d| d["type"] == "disk" && d["source"].as_str().is_some_and(|s| s.starts_with('/')))
        .map(|d| d["source"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The fingerprints of the images in the test project on `remote`.
pub(crate) fn image_fingerprints(remote: Option<&str>) -> Vec<String> {
    let mut args = vec!["image", "list", "--project", PROJECT, "--format", "json"];
    let target = remote.map(|r| format!("{r}:"));
    if let Some(t) = &target {
        args.push(t);
    }
    let out = incus(&args);
    assert!(out.status.success(), "{out:?}");
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut fps: Vec<String> = list
        .iter()
        .filter_map(|i| i["fingerprint"].as_str().map(str::to_owned))
        .collect();
    fps.sort();
    fps
}

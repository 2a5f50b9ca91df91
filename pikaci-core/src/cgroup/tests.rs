//! Against this machine's real cgroups (root needed, as the services that
//! use them run): a cgroup holds a job's processes whatever they do with
//! sessions, its kill ends them all, its limits hold and say they were hit.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::*;

/// The root, or a failure that says how to get one.
fn root() -> CgroupRoot {
    CgroupRoot::detect().unwrap_or_else(|e| {
        panic!(
            "cgroups are not usable here ({e}): these tests need root and a kernel with cgroup v2 \
             (run them as root, as `bash scripts/test-setup.sh` sets the machine up)"
        )
    })
}

fn name(what: &str) -> String {
    format!("pikaci-test-{what}-{}", std::process::id())
}

fn bash(script: &str) -> Child {
    Command::new("bash")
        .args(["-c", script])
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits (bounded) until `check` holds.
fn until(what: &str, check: impl Fn() -> bool) {
    for _ in 0..1000 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn a_cgroup_keeps_a_setsid_daemon_and_its_kill_ends_everything() {
    let root = root();
    let group = root
        .create(&name("kill"), &CgroupLimits::default())
        .unwrap();
    // A shell that waits to be moved in, then leaves a daemon in its own
    // session and a backgrounded child, and exits.
    let cg = group.v2_path().to_owned();
    let mut shell = bash(&format!(
        "until grep -qx '0::{cg}' /proc/self/cgroup; do sleep 0.01; done; \
         setsid sleep 300 & sleep 300 & sleep 300"
    ));
    group.add(shell.id()).unwrap();
    until("the shell's three children", || group.procs().len() == 4);
    assert_eq!(group.kill().unwrap(), 4);
    assert!(group.procs().is_empty());
    let _ = shell.wait();
    let dir = group.v2_dir().to_owned();
    group.remove().unwrap();
    assert!(!dir.exists());
}

#[test]
fn the_process_limit_refuses_forks_and_says_so() {
    let root = root();
    let limits = CgroupLimits {
        pids_max: Some(8),
        ..CgroupLimits::default()
    };
    let group = root.create(&name("pids"), &limits).unwrap();
    let cg = group.v2_path().to_owned();
    let mut shell = bash(&format!(
        "until grep -qx '0::{cg}' /proc/self/cgroup; do sleep 0.01; done; \
         for i in $(seq 20); do sleep 300 & done 2>/dev/null; echo started; wait"
    ));
    group.add(shell.id()).unwrap();
    until("refused forks", || group.limits_hit().forks_refused > 0);
    assert!(group.procs().len() <= 8, "{:?}", group.procs());
    group.kill().unwrap();
    let _ = shell.wait();
    group.remove().unwrap();
}

#[test]
fn the_memory_limit_oom_kills_and_says_so() {
    let root = root();
    let limits = CgroupLimits {
        memory_max: Some(32 << 20),
        ..CgroupLimits::default()
    };
    let group = root.create(&name("mem"), &limits).unwrap();
    let cg = group.v2_path().to_owned();
    // dd reads into a buffer of bs bytes: 256 MiB it cannot have.
    let mut shell = bash(&format!(
        "until grep -qx '0::{cg}' /proc/self/cgroup; do sleep 0.01; done; \
         exec dd if=/dev/zero of=/dev/null bs=256M count=1 status=none"
    ));
    group.add(shell.id()).unwrap();
    let status = shell.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "{status:?}"
    );
    assert_eq!(group.limits_hit().oom_kills, 1);
    group.remove().unwrap();
}

#[test]
fn bad_names_are_refused_and_a_taken_one_too() {
    let root = root();
    for bad in ["", "a/b", "..", ".hidden"] {
        assert!(matches!(
            root.create(bad, &CgroupLimits::default()),
            Err(CgroupError::BadName(_))
        ));
    }
    let group = root
        .create(&name("twice"), &CgroupLimits::default())
        .unwrap();
    assert!(
        root.create(&name("twice"), &CgroupLimits::default())
            .is_err()
    );
    group.remove().unwrap();
}

#[test]
fn the_supervisor_waits_to_be_moved_in() {
    let root = root();
    let group = root
        .create(&name("await"), &CgroupLimits::default())
        .unwrap();
    // This test's process is not moved: waiting fails, and says which cgroup.
    let e = await_membership(group.v2_path(), Duration::from_millis(20)).unwrap_err();
    assert!(e.to_string().contains(group.v2_path()), "{e}");
    group.remove().unwrap();
    assert!(
        root.to_string().starts_with("one cgroup per job under "),
        "{root}"
    );
}

#[test]
fn a_sweep_ends_and_removes_only_the_stale_cgroups() {
    let root = root();
    let limits = CgroupLimits {
        pids_max: Some(50),
        ..CgroupLimits::default()
    };
    let prefix = name("sweep");
    let stale = root.create(&format!("{prefix}-stale"), &limits).unwrap();
    let live = root.create(&format!("{prefix}-live"), &limits).unwrap();
    let cg = stale.v2_path().to_owned();
    let mut shell = bash(&format!(
        "until grep -qx '0::{cg}' /proc/self/cgroup; do sleep 0.01; done; setsid sleep 300 & wait"
    ));
    stale.add(shell.id()).unwrap();
    until("the daemon", || stale.procs().len() == 2);
    let swept = root.sweep(&prefix, |n| n.ends_with("-stale"));
    assert_eq!(swept, [(format!("{prefix}-stale"), 2)]);
    assert!(!stale.v2_dir().exists());
    assert!(live.v2_dir().exists());
    let _ = shell.wait();
    live.remove().unwrap();
}

//! Test environment: temp folders readable by uid 1000, the built guest
//! binary, a look at processes in /proc, and the record of a run.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::RunRecord;

/// The guest binary built for this test run.
pub(crate) fn guest_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pikaci-incus-run"))
}

/// A temp folder that user `pikaci` (uid 1000) can enter.
pub(crate) struct TestDir {
    _tmp: tempfile::TempDir,
    pub(crate) path: Utf8PathBuf,
}

impl TestDir {
    pub(crate) fn new() -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = Utf8PathBuf::from_path_buf(tmp.path().to_owned()).expect("utf-8 temp path");
        open_up(path.as_std_path());
        Self { _tmp: tmp, path }
    }

    /// Makes `rel` (and its parents) readable and enterable by everyone.
    pub(crate) fn dir(&self, rel: &str) -> Utf8PathBuf {
        let p = self.path.join(rel);
        std::fs::create_dir_all(&p).expect("mkdir");
        let mut cur: &Utf8Path = &p;
        while cur != self.path {
            open_up(cur.as_std_path());
            cur = cur.parent().expect("inside the temp dir");
        }
        p
    }
}

fn open_up(p: &Path) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// Whether a process is still alive (zombies count as gone).
pub(crate) fn alive(pid: i32) -> bool {
    u32::try_from(pid)
        .ok()
        .and_then(|pid| pikaci_core::ProcStat::read(pid).ok())
        .is_some_and(|stat| !stat.is_dead())
}

/// Waits (briefly, for signal delivery) until `pid` is gone.
pub(crate) fn gone_soon(pid: i32) -> bool {
    for _ in 0..100 {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

/// Live processes whose command line (NUL-separated, as in
/// `/proc/PID/cmdline`) passes `pred`.
fn live_pids(pred: impl Fn(&[u8]) -> bool) -> Vec<i32> {
    pikaci_core::ProcStat::all()
        .into_iter()
        .filter(|(pid, stat)| {
            !stat.is_dead() && std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| pred(&c))
        })
        .filter_map(|(pid, _)| i32::try_from(pid).ok())
        .collect()
}

/// Live processes whose command line is exactly `argv`.
pub(crate) fn pids_with_argv(argv: &[&str]) -> Vec<i32> {
    let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    live_pids(|c| c == want)
}

/// Live processes whose command line holds `needle` (an argument, or part
/// of one).
pub(crate) fn pids_mentioning(needle: &str) -> Vec<i32> {
    live_pids(|c| {
        String::from_utf8_lossy(c)
            .split('\0')
            .any(|arg| arg.contains(needle))
    })
}

/// The record of the one run under the state root `state`.
pub(crate) fn only_record(state: &Utf8Path) -> RunRecord {
    let runs: Vec<_> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    serde_json::from_slice(&std::fs::read(runs[0].join("run.json")).unwrap()).unwrap()
}

/// Live children of `parent`.
pub(crate) fn children_of(parent: i32) -> Vec<i32> {
    pikaci_core::ProcStat::all()
        .into_iter()
        .filter(|(_, stat)| stat.ppid == parent && !stat.is_dead())
        .filter_map(|(pid, _)| i32::try_from(pid).ok())
        .collect()
}

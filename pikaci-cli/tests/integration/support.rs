//! `TestEnv`: a temporary git repository with a pipeline, a state root, and
//! helpers to run the built `pikaci` binary in it.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::{ProcStat, RunId, RunRecord};
use pikaci_store::Store;

pub(crate) struct TestEnv {
    _dir: tempfile::TempDir,
    pub(crate) root: Utf8PathBuf,
    pub(crate) repo: Utf8PathBuf,
    pub(crate) state: Utf8PathBuf,
}

impl TestEnv {
    /// A git repository holding `pikaci.toml` with `pipeline`, committed.
    pub(crate) fn new(pipeline: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::from_path_buf(dir.path().canonicalize().unwrap()).unwrap();
        let repo = root.join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::write(repo.join("pikaci.toml"), pipeline).unwrap();
        std::fs::write(repo.join("README"), "a test repository\n").unwrap();
        git_fixture::sh(&repo, "git init -q . && git add . && git commit -qm init");
        let state = root.join("state");
        Self {
            _dir: dir,
            root,
            repo,
            state,
        }
    }

    /// `pikaci` in the repository with `PIKACI_STATE_ROOT` set to the test's state root.
    pub(crate) fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pikaci"));
        c.current_dir(&self.repo)
            .env("PIKACI_STATE_ROOT", &self.state);
        c
    }

    pub(crate) fn pikaci(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    pub(crate) fn store(&self) -> Store {
        Store::open(self.state.clone())
    }

    /// The newest run's record.
    pub(crate) fn last_run(&self) -> RunRecord {
        let store = self.store();
        let id = store
            .list_runs(None, 1)
            .unwrap()
            .pop()
            .expect("a run exists");
        store.load_run_record(&id).unwrap()
    }

    pub(crate) fn log(&self, run: &RunId, job: &str, file: &str) -> String {
        std::fs::read_to_string(self.state.join(format!("runs/{run}/jobs/{job}/{file}")))
            .unwrap_or_default()
    }

    /// Polls (bounded) until `check` holds for the newest run.
    pub(crate) fn wait_for_run(&self, what: &str, check: impl Fn(&RunRecord) -> bool) -> RunRecord {
        self.wait_among(1, what, check)
    }

    /// Polls (bounded) until `check` holds for any run (runs started within
    /// one second have no order between them).
    pub(crate) fn wait_for_any_run(
        &self,
        what: &str,
        check: impl Fn(&RunRecord) -> bool,
    ) -> RunRecord {
        self.wait_among(usize::MAX, what, check)
    }

    fn wait_among(
        &self,
        newest: usize,
        what: &str,
        check: impl Fn(&RunRecord) -> bool,
    ) -> RunRecord {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let store = self.store();
            let found = store
                .list_runs(None, newest)
                .unwrap_or_default()
                .iter()
                .filter_map(|id| store.load_run_record(id).ok())
                .find(|r| check(r));
            if let Some(r) = found {
                return r;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Whether a process is gone (or only a zombie waiting to be reaped).
pub(crate) fn process_gone(pid: i32) -> bool {
    u32::try_from(pid)
        .ok()
        .and_then(|pid| ProcStat::read(pid).ok())
        .is_none_or(|stat| stat.is_dead())
}

/// Waits (bounded) for a process to be gone.
pub(crate) fn wait_gone(pid: i32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if process_gone(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

pub(crate) fn read_pid(path: &Utf8Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = std::fs::read_to_string(path)
            && let Ok(pid) = s.trim().parse()
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "no pid in {path}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

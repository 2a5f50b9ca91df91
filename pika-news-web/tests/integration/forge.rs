//! A forge for tests: a canonical bare repository, a working clone that pushes
//! branches to it, a database on a manual clock, a state root and a scheduler
//! over them.

use std::collections::BTreeMap;
use std::sync::Arc;

use camino::{Utf8Path, Utf8PathBuf};
use pika_news_core::clock::ManualClock;
use pika_news_core::data_dir::DataDir;
use pika_news_core::db::Db;
use pika_news_core::scheduler::Scheduler;
use pika_news_web::ForgeRepo;

pub(crate) struct Forge {
    _dir: tempfile::TempDir,
    pub(crate) root: Utf8PathBuf,
    pub(crate) bare: Utf8PathBuf,
    pub(crate) work: Utf8PathBuf,
    pub(crate) db: Db,
    /// The database's clock: it moves only when a test advances it.
    pub(crate) clock: ManualClock,
    pub(crate) repo: ForgeRepo,
}

pub(crate) use git_fixture::sh;

/// Makes the canonical bare repository `root/git/pika.git` and the working
/// clone `root/work`, both on `main`; returns (bare, work).
pub(crate) fn init_repos(root: &Utf8Path) -> (Utf8PathBuf, Utf8PathBuf) {
    let bare = root.join("git/pika.git");
    let work = root.join("work");
    sh(
        root,
        &format!("git init -q --bare -b main {bare} && git init -q -b main {work}"),
    );
    (bare, work)
}

/// Writes files in the working clone `work`, commits them and pushes
/// `branch` to `bare`.
pub(crate) fn push(work: &Utf8Path, bare: &Utf8Path, branch: &str, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = work.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    sh(
        work,
        &format!(
            "(git checkout -q {branch} 2>/dev/null || git checkout -q -b {branch}) && git add -A && git commit -qm change --allow-empty && git push -q -f {bare} {branch}"
        ),
    );
}

/// The `pikaci` binary of this workspace (built by `cargo test --workspace`).
pub(crate) fn pikaci_bin() -> Utf8PathBuf {
    let exe = Utf8PathBuf::try_from(std::env::current_exe().unwrap()).unwrap();
    // target/debug/deps/integration-xxxx -> target/debug/pikaci
    let bin = exe
        .parent()
        .and_then(Utf8Path::parent)
        .unwrap()
        .join("pikaci");
    assert!(
        bin.exists(),
        "{bin} is missing: build the workspace first (`cargo test --workspace` does)"
    );
    bin
}

impl Forge {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::try_from(dir.path().canonicalize().unwrap()).unwrap();
        let (bare, work) = init_repos(&root);
        let clock = ManualClock::new("2026-03-24T16:12:38Z".parse().unwrap());
        let db = Db::open_with_clock(&root.join("news.sqlite"), Arc::new(clock.clone())).unwrap();
        let repo = ForgeRepo {
            repo: "sledtools/pika".into(),
            canonical_git_dir: bare.clone(),
            default_branch: "main".into(),
            ci_concurrency: 2,
            lane_timeout_secs: 60,
            pikaci_state_root: pika_news_web::pikaci_state_root("sledtools/pika", &bare),
            pikaci_bin: "pikaci".into(),
            env_allow: vec![],
            data_dir: DataDir::new(root.join("data")),
            poll_interval_secs: 1,
            lanes_manifest: None,
            merge_policy: Default::default(),
            commit_url: None,
        };
        Self {
            _dir: dir,
            root,
            bare,
            work,
            db,
            clock,
            repo,
        }
    }

    /// Writes files in the working clone, commits them and pushes `branch`.
    pub(crate) fn push(&self, branch: &str, files: &[(&str, &str)]) {
        push(&self.work, &self.bare, branch, files);
    }

    pub(crate) fn scheduler(&self) -> Scheduler {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        Scheduler::new(self.db.clone(), self.repo.clone(), env)
    }
}

//! Kept snapshots on a big tree: disk and start time for ten runs, each
//! with one file changed, against a plain copy made with
//! `git ls-files -z | tar --null -T - -c | tar -x` just before each run.
//! Every timed step starts after a `sync` and, as root, with the page cache
//! dropped, so both read the tree from the disk; wall and CPU time are
//! printed for both. The start is what a run waits for before its first
//! job: the copy and the manifest. The new contents' objects are stored
//! after it (the engine does that while the jobs run); that time is printed
//! apart.
//!
//! `cargo bench -p pikaci-cli --bench snapshot` (env `SNAPSHOT_FILES`,
//! default 25000, and `SNAPSHOT_BYTES`, default 375 MB, size the tree;
//! `SNAPSHOT_RUNS`, default 10, counts the runs; `SNAPSHOT_WARM=1` leaves
//! the page cache as it is). Prints figures; asserts nothing (the tests do).

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use git_fixture::sh;
use pikaci_core::snapshot::kept::KeptLayout;
use pikaci_core::snapshot::source::remove_tree;
use pikaci_core::snapshot::{DiskSnapshotter, Snapshotter};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Disk use under `dir` as `du` counts it: allocated blocks, each inode once.
fn disk_use(dir: &Utf8Path, seen: &mut BTreeSet<(u64, u64)>) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return 0;
    };
    let mut total = 0;
    if seen.insert((meta.dev(), meta.ino())) {
        total += meta.blocks() * 512;
    }
    if meta.is_dir() {
        for entry in dir.read_dir_utf8().unwrap() {
            total += disk_use(entry.unwrap().path(), seen);
        }
    }
    total
}

fn du(dir: &Utf8Path) -> u64 {
    disk_use(dir, &mut BTreeSet::new())
}

/// Deterministic bytes: a simple generator, so no two files share content.
fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// CPU time (user + system) so far, from `/proc/self/stat`: this process's
/// own, and that of its children waited for (`sh` and the tar pipeline).
/// CPU time is not stretched by other work on a shared machine the way
/// wall time is.
#[derive(Clone, Copy)]
struct Cpu {
    own: Duration,
    children: Duration,
}

impl Cpu {
    fn now() -> Self {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        // The fields after the command name (which may hold spaces).
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let field = |n: usize| -> u64 { rest.split(' ').nth(n - 3).unwrap().parse().unwrap() };
        let tick = |t: u64| Duration::from_secs_f64(t as f64 / 100.0);
        Self {
            own: tick(field(14) + field(15)),
            children: tick(field(16) + field(17)),
        }
    }

    fn own_since(self) -> Duration {
        Self::now().own - self.own
    }

    fn children_since(self) -> Duration {
        Self::now().children - self.children
    }
}

/// A timed step: wall time and CPU time.
struct Took {
    wall: Duration,
    cpu: Duration,
}

impl Took {
    /// This step against `other`: (wall ratio, CPU ratio).
    fn ratio(&self, other: &Took) -> (f64, f64) {
        (
            self.wall.as_secs_f64() / other.wall.as_secs_f64(),
            self.cpu.as_secs_f64() / other.cpu.as_secs_f64().max(0.01),
        )
    }
}

impl std::fmt::Display for Took {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (CPU {})", secs(self.wall), secs(self.cpu))
    }
}

/// Whether this process may drop the page cache (it runs as root).
fn can_drop_caches() -> bool {
    std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/sys/vm/drop_caches")
        .is_ok()
}

/// Writes every dirty page back and, when `cold`, empties the page cache.
fn settle(dir: &Utf8Path, cold: bool) {
    sh(dir, "sync");
    if cold {
        std::fs::write("/proc/sys/vm/drop_caches", "3\n").unwrap();
    }
}

fn main() {
    let files = env_or("SNAPSHOT_FILES", 25_000);
    let bytes = env_or("SNAPSHOT_BYTES", 375_000_000);
    let runs = env_or("SNAPSHOT_RUNS", 10).max(2);
    let tmp = tempfile::tempdir().unwrap();
    let root = Utf8PathBuf::try_from(tmp.path().to_owned()).unwrap();
    let src = root.join("src");
    let each = (bytes / files) as usize;
    for i in 0..files {
        let path = src.join(format!("d{:03}/f{i:05}.dat", i % 500));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content(i, each)).unwrap();
    }
    // No automatic repacking in the background while the runs are timed.
    sh(
        &src,
        "git init -q . && git config gc.auto 0 && git config maintenance.auto false \
         && git add . && git commit -qm tree",
    );
    let tree = du(&src) - du(&src.join(".git"));
    println!(
        "tree: {files} files, {} of data, {} on disk (without .git)",
        mb(each as u64 * files),
        mb(tree)
    );

    // Each timed step starts cold: no dirty pages (`sync`) and, where this
    // process may (root), nothing of the source in the page cache, so the
    // tar copy and the snapshot both read the tree from the disk and one
    // step's writeback does not land on the next one's clock.
    let tar_dest = root.join("tar");
    // `SNAPSHOT_WARM=1`: the tree stays in the page cache (as on a
    // developer's machine right after a build).
    let warm = std::env::var_os("SNAPSHOT_WARM").is_some_and(|v| v == "1");
    let cold = !warm && can_drop_caches();
    if warm {
        println!("(warm: the page cache is not dropped, only synced, before each step)");
    } else if !cold {
        println!("(not root: the page cache is not dropped, only synced, before each step)");
    }
    let tar = || {
        std::fs::create_dir_all(&tar_dest).unwrap();
        settle(&src, cold);
        let (started, cpu) = (Instant::now(), Cpu::now());
        sh(
            &src,
            &format!("git ls-files -z | tar --null -T - -c | tar -x -C {tar_dest}"),
        );
        let took = Took {
            wall: started.elapsed(),
            cpu: cpu.children_since(),
        };
        let size = du(&tar_dest);
        remove_tree(&tar_dest).unwrap();
        (took, size)
    };
    let (first_tar, one_copy) = tar();
    println!("tar copy: {first_tar}, {} on disk", mb(one_copy));

    let state = root.join("state");
    let objects = state.join("objects");
    let snapshotter = DiskSnapshotter;
    let mut ratios = Vec::new();
    for run in 0..runs {
        if run > 0 {
            let changed = src.join(format!("d{:03}/f{:05}.dat", run % 500, run));
            std::fs::write(changed, content(1_000_000 + run, each)).unwrap();
        }
        let run_dir = state.join(format!("runs/run{run}"));
        std::fs::create_dir_all(&run_dir).unwrap();
        let layout = KeptLayout {
            objects: objects.clone(),
            manifest: run_dir.join("snapshot.manifest"),
            leftover: None,
        };
        let dest = run_dir.join("snapshot");
        // The tar copy of this very tree, just before, as the yardstick.
        let (tar_took, _) = tar();
        settle(&src, cold);
        let (started, cpu) = (Instant::now(), Cpu::now());
        let pending = snapshotter
            .snapshot_kept(&src, &dest, None, &layout)
            .unwrap();
        let took = Took {
            wall: started.elapsed(),
            cpu: cpu.own_since(),
        };
        let ratio = took.ratio(&tar_took);
        ratios.push(ratio);
        // What the engine does while the jobs run: store the new contents.
        let (to_store, stored_at, cpu) = (pending.len(), Instant::now(), Cpu::now());
        pending.store().unwrap();
        let storing = Took {
            wall: stored_at.elapsed(),
            cpu: cpu.own_since(),
        };
        let during = du(&state);
        // The run ends: its folder goes, its manifest and objects stay.
        remove_tree(&dest).unwrap();
        println!(
            "run {:>2}: start {took}, tar just before {tar_took}: {:.2}x (CPU {:.2}x); {to_store} new objects stored while the jobs run in {storing}; state root {} during the run, {} after",
            run + 1,
            ratio.0,
            ratio.1,
            mb(during),
            mb(du(&state))
        );
    }
    let kept = du(&state);
    let mut later: Vec<(f64, f64)> = ratios[1..].to_vec();
    later.sort_by(|a, b| a.0.total_cmp(&b.0));
    let median = later[later.len() / 2];
    println!(
        "after {runs} runs: state root {} = {:.2}x one copy ({})",
        mb(kept),
        kept as f64 / one_copy as f64,
        mb(one_copy),
    );
    println!(
        "start against the tar copy just before: first run {:.2}x (CPU {:.2}x); later runs median {:.2}x (CPU {:.2}x), {:.2}x to {:.2}x",
        ratios[0].0,
        ratios[0].1,
        median.0,
        median.1,
        later[0].0,
        later[later.len() - 1].0,
    );
    remove_tree(&state).unwrap();
}

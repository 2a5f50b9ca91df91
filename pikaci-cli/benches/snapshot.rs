//! Kept snapshots on a big tree: disk and start time for ten runs, each
//! with one file changed, against one plain copy made with
//! `git ls-files -z | tar --null -T - -c | tar -x`.
//!
//! `cargo bench -p pikaci-cli --bench snapshot` (env `SNAPSHOT_FILES`,
//! default 25000, and `SNAPSHOT_BYTES`, default 375 MB, size the tree).
//! Prints figures; asserts nothing (the tests do).

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

fn main() {
    let files = env_or("SNAPSHOT_FILES", 25_000);
    let bytes = env_or("SNAPSHOT_BYTES", 375_000_000);
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

    // Each timed step starts with no dirty pages (`sync`), so one step's
    // writeback does not land on the next one's clock.
    let tar_dest = root.join("tar");
    let tar = || {
        std::fs::create_dir_all(&tar_dest).unwrap();
        sh(&src, "sync");
        let started = Instant::now();
        sh(
            &src,
            &format!("git ls-files -z | tar --null -T - -c | tar -x -C {tar_dest}"),
        );
        let took = started.elapsed();
        let size = du(&tar_dest);
        remove_tree(&tar_dest).unwrap();
        (took, size)
    };
    let (first_tar, one_copy) = tar();
    println!("tar copy: {}, {} on disk", secs(first_tar), mb(one_copy));

    let state = root.join("state");
    let objects = state.join("objects");
    let snapshotter = DiskSnapshotter;
    let mut times = Vec::new();
    for run in 0..10u64 {
        if run > 0 {
            let changed = src.join(format!("d{:03}/f{:05}.dat", run % 500, run));
            std::fs::write(changed, content(1_000_000 + run, each)).unwrap();
        }
        let run_dir = state.join(format!("runs/run{run}"));
        std::fs::create_dir_all(&run_dir).unwrap();
        let layout = KeptLayout {
            objects: objects.clone(),
            manifest: run_dir.join("snapshot.manifest"),
        };
        let dest = run_dir.join("snapshot");
        // The tar copy of this very tree, just before, as the yardstick.
        let (tar_time, _) = tar();
        sh(&src, "sync");
        let started = Instant::now();
        snapshotter
            .snapshot_kept(&src, &dest, None, &layout)
            .unwrap();
        let took = started.elapsed();
        times.push(took.as_secs_f64() / tar_time.as_secs_f64());
        let during = du(&state);
        // The run ends: its folder goes, its manifest and objects stay.
        remove_tree(&dest).unwrap();
        println!(
            "run {:>2}: start {} (tar {}: {:.2}x), state root {} during the run, {} after",
            run + 1,
            secs(took),
            secs(tar_time),
            took.as_secs_f64() / tar_time.as_secs_f64(),
            mb(during),
            mb(du(&state))
        );
    }
    let kept = du(&state);
    println!(
        "after 10 runs: state root {} = {:.2}x one copy ({}); first start {:.2}x tar, later starts {:.2}x to {:.2}x",
        mb(kept),
        kept as f64 / one_copy as f64,
        mb(one_copy),
        times[0],
        times[1..].iter().copied().fold(f64::MAX, f64::min),
        times[1..].iter().copied().fold(0.0, f64::max),
    );
    remove_tree(&state).unwrap();
}

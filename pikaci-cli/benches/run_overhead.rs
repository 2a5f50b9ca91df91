//! `pikaci run` overhead, printed as figures (not pass/fail):
//! `cargo bench -p pikaci-cli --bench run_overhead`.
//!
//! - a job writing 512 MiB (the bar) and 1 GiB to stdout under `pikaci run`,
//!   which also dates every write in the log's timestamp sidecar
//!   (`guest.log.ts`), against the same command with a plain shell redirect
//!   to a file, paired in alternating rounds in this one process
//!   (`PIKACI_BENCH_ROUNDS`, 9 by default): medians, their ratio (goal: at
//!   most 1.10x), the CPU time of both, and the fixed costs (a job printing
//!   nothing, `bash -c true`) so the capture's own ratio shows;
//! - the per-job overhead of a target of 1,000 jobs that each run `true`
//!   (goal: under 5 ms per job; `run.json` was rewritten on every job event
//!   once, which made this quadratic: 41 ms per job at 1,000 jobs);
//! - the time to snapshot this repository.
//!
//! `cargo bench -p pikaci-cli --bench run_overhead -- jobs` runs only the
//! benchmarks whose name contains `jobs` (`output`, `jobs`, `snapshot`).

use std::process::Command;
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::snapshot::source::{copy_snapshot, remove_tree, snapshot_files};

const MIB: u64 = 1 << 20;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("run_overhead: run with `cargo bench -p pikaci-cli --bench run_overhead`");
        return;
    }
    let base = std::env::var("PIKACI_BENCH_DIR")
        .unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").to_owned());
    let dir = tempfile::tempdir_in(base).expect("bench dir");
    let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).expect("utf-8");
    println!("pikaci run overhead benchmarks in {root}");
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |name: &str| filters.is_empty() || filters.iter().any(|f| name.contains(f));
    if wanted("output") {
        big_output(&root, 512 * MIB);
        big_output(&root, 1024 * MIB);
    }
    if wanted("jobs") {
        many_jobs(&root, 1000);
    }
    if wanted("snapshot") {
        snapshot_this_repo(&root);
    }
}

fn repo(root: &Utf8Path, name: &str, pipeline: &str) -> Utf8PathBuf {
    let repo = root.join(name);
    std::fs::create_dir_all(&repo).expect("repo");
    std::fs::write(repo.join("pikaci.toml"), pipeline).expect("pipeline");
    repo
}

fn pikaci(repo: &Utf8Path, state: &Utf8Path, args: &[&str]) -> Duration {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_pikaci"))
        .current_dir(repo)
        .arg("--state-root")
        .arg(state)
        .args(args)
        .output()
        .expect("pikaci runs");
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// CPU time (user + system) of this process's children that have been
/// waited for: `/proc/self/stat` fields 16 and 17, in clock ticks (100 a
/// second on Linux). Unlike wall time, it does not grow with the load other
/// programs put on a shared machine.
fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("proc stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat line")
        .1
        .split_whitespace()
        .collect();
    // `fields[0]` is field 3; cutime and cstime are fields 16 and 17.
    let ticks: u64 =
        fields[13].parse::<u64>().expect("cutime") + fields[14].parse::<u64>().expect("cstime");
    Duration::from_millis(ticks * 10)
}

/// What `f` took, in wall time and in the CPU time of the children it ran.
fn timed(f: impl FnOnce()) -> (Duration, Duration) {
    let (t, cpu) = (Instant::now(), children_cpu());
    f();
    (t.elapsed(), children_cpu().saturating_sub(cpu))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The size of every `guest.log.ts` under `state`, in bytes.
fn sidecar_bytes(state: &Utf8Path) -> u64 {
    let mut total = 0;
    for run in std::fs::read_dir(state.join("runs"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let ts = run.path().join("jobs/big/guest.log.ts");
        total += std::fs::metadata(ts).map_or(0, |m| m.len());
    }
    total
}

/// Rounds of the output pairing: `PIKACI_BENCH_ROUNDS`, 9 by default.
fn output_rounds() -> usize {
    std::env::var("PIKACI_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(9)
}

/// One side of the output pairing: wall and children's CPU time per round.
#[derive(Default)]
struct Side {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
}

impl Side {
    fn add(&mut self, (wall, cpu): (Duration, Duration)) {
        self.wall.push(wall);
        self.cpu.push(cpu);
    }
}

/// `bytes` to stdout under `pikaci run` against `bash -c '... > file'`, in
/// alternating rounds in this one process (a busy moment of a shared
/// machine falls on both alike), each round after `sync` so neither pays
/// for the other's writeback. Also timed: `pikaci run` of a job printing
/// nothing and `bash -c true` (the fixed costs), so the capture's own ratio
/// can be told from pikaci's start, snapshot and records.
fn big_output(root: &Utf8Path, bytes: u64) {
    let cmd = format!("head -c {bytes} /dev/zero");
    let empty = repo(root, "empty", "[[job]]\nid = \"big\"\ncommand = \"true\"\n");
    let repo = repo(
        root,
        "big",
        &format!("[[job]]\nid = \"big\"\ncommand = \"{cmd}\"\n"),
    );
    let state = root.join("big-state");
    let plain_file = root.join("plain.out");
    let (mut under, mut plain, mut fixed, mut bash) = (
        Side::default(),
        Side::default(),
        Side::default(),
        Side::default(),
    );
    let mut sidecar = 0;
    let sync = || {
        let _ = Command::new("sync").status();
    };
    let mut run_pikaci = |under: &mut Side| {
        sync();
        under.add(timed(|| {
            pikaci(&repo, &state, &["run"]);
        }));
        sidecar = sidecar_bytes(&state);
        let _ = std::fs::remove_dir_all(&state);
    };
    let run_plain = |plain: &mut Side| {
        sync();
        plain.add(timed(|| {
            let ok = Command::new("bash")
                .arg("-c")
                .arg(format!("{cmd} > {plain_file}"))
                .status()
                .expect("bash")
                .success();
            assert!(ok);
        }));
        std::fs::remove_file(&plain_file).expect("rm");
    };
    let rounds = output_rounds();
    for round in 0..rounds {
        if round % 2 == 0 {
            run_pikaci(&mut under);
            run_plain(&mut plain);
        } else {
            run_plain(&mut plain);
            run_pikaci(&mut under);
        }
        fixed.add(timed(|| {
            pikaci(&empty, &state, &["run"]);
        }));
        let _ = std::fs::remove_dir_all(&state);
        bash.add(timed(|| {
            let ok = Command::new("bash")
                .args(["-c", "true"])
                .status()
                .expect("bash")
                .success();
            assert!(ok);
        }));
    }
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let pairs: Vec<f64> = under
        .wall
        .iter()
        .zip(&plain.wall)
        .map(|(u, p)| ratio(*u, *p))
        .collect();
    let mut sorted = pairs.clone();
    sorted.sort_by(f64::total_cmp);
    let (u, p) = (median(under.wall.clone()), median(plain.wall.clone()));
    let (uc, pc) = (median(under.cpu.clone()), median(plain.cpu.clone()));
    let (f, b) = (median(fixed.wall), median(bash.wall));
    println!(
        "{} MiB to stdout, {rounds} alternating rounds: pikaci run (timestamp sidecar on: {sidecar} bytes, {} records) median {u:?}, shell redirect {p:?}: **{:.2}x** by median (goal: at most 1.10x); per-round ratios {:.2}x to {:.2}x, their median {:.2}x",
        bytes / MIB,
        sidecar.saturating_sub(16) / 16,
        ratio(u, p),
        sorted[0],
        sorted[sorted.len() - 1],
        sorted[sorted.len() / 2],
    );
    println!(
        "  CPU time (all processes; the machine's load does not inflate it): pikaci run {uc:?}, redirect {pc:?}: {:.2}x",
        ratio(uc, pc)
    );
    println!(
        "  fixed costs: pikaci run of a job printing nothing {f:?}, bash -c true {b:?}; the capture alone (each side less its fixed cost): {:.2}x",
        ratio(u.saturating_sub(f), p.saturating_sub(b))
    );
}

fn many_jobs(root: &Utf8Path, count: usize) {
    let mut pipeline = String::new();
    for i in 0..count {
        pipeline.push_str(&format!("[[job]]\nid = \"j{i}\"\ncommand = \"true\"\n"));
    }
    pipeline.push_str("[[target]]\nid = \"all\"\njobs = [");
    pipeline.push_str(
        &(0..count)
            .map(|i| format!("\"j{i}\""))
            .collect::<Vec<_>>()
            .join(", "),
    );
    pipeline.push_str("]\n");
    let many = repo(root, "many", &pipeline);
    let one = repo(
        root,
        "one",
        "[[job]]\nid = \"j0\"\ncommand = \"true\"\n[[target]]\nid = \"all\"\njobs = [\"j0\"]\n",
    );
    // A state root per round, all removed at the end: on ext4, files made
    // just after thousands were deleted cost several times more to create
    // (the allocator skips recently freed inodes, `recently_deleted` in a
    // profile), which doubled the per-job figure when one round's state
    // was deleted right before the next round.
    let states: Vec<Utf8PathBuf> = (0..3)
        .map(|i| root.join(format!("many-state-{i}")))
        .collect();
    // What a job costs without pikaci: starting bash to run `true`. Measured
    // between the runs, so all see the same load on a shared machine.
    let bare_bash = || {
        for _ in 0..count {
            let ok = Command::new("bash")
                .args(["--noprofile", "--norc", "-c", "true"])
                .status()
                .expect("bash")
                .success();
            assert!(ok);
        }
    };
    let (mut many_wall, mut many_cpu, mut one_wall, mut bare_wall, mut bare_cpu) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for state in &states {
        let (wall, cpu) = timed(|| {
            pikaci(&many, state, &["run", "all"]);
        });
        many_wall.push(wall);
        many_cpu.push(cpu);
        let (wall, cpu) = timed(bare_bash);
        bare_wall.push(wall);
        bare_cpu.push(cpu);
        one_wall.push(pikaci(&one, state, &["run", "all"]));
    }
    for state in &states {
        let _ = std::fs::remove_dir_all(state);
    }
    let n = count as u32;
    let (many_wall, one_wall) = (median(many_wall), median(one_wall));
    let marginal = many_wall.saturating_sub(one_wall) / (n - 1);
    let bare = median(bare_wall) / n;
    let cpu = median(many_cpu) / n;
    let bare_cpu = median(bare_cpu) / n;
    println!(
        "{count} jobs running `true`: {many_wall:?} in all; one job {one_wall:?}; marginal cost per extra job {marginal:?}, of which starting `bash -c true` itself {bare:?}: pikaci's overhead per job {:?} (goal: under 5 ms)",
        marginal.saturating_sub(bare)
    );
    println!(
        "  CPU per job (all processes, whatever the machine's load): {cpu:?} under pikaci, {bare_cpu:?} for `bash -c true` alone: pikaci's overhead {:?} of CPU per job",
        cpu.saturating_sub(bare_cpu)
    );
}

fn snapshot_this_repo(root: &Utf8Path) {
    let this = Utf8Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let mut times = Vec::new();
    let mut count = 0;
    for i in 0..5 {
        let dest = root.join(format!("snap-{i}"));
        let t = Instant::now();
        let files = snapshot_files(this).expect("list files");
        count = copy_snapshot(this, &files, &dest, None).expect("copy");
        times.push(t.elapsed());
        remove_tree(&dest).expect("remove");
    }
    println!(
        "snapshot of this repository ({count} files): median {:?} of 5",
        median(times)
    );
}

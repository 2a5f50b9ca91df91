//! The per-job overhead of pikaci's Incus path, printed as figures (not
//! pass/fail): `cargo bench -p pikaci-cli --bench incus_overhead`.
//!
//! Against the real daemon and the test image `scripts/test-setup.sh` makes,
//! in system containers, each job running `true`, rounds alternating (so a
//! busy moment of a shared machine falls on both sides alike):
//! - bare: `incus launch` + `incus exec -- true` + `incus delete --force` of
//!   the same image;
//! - pikaci: `pikaci run` of one Incus job: the job's own time from
//!   `run.json`, from its start to its recorded result (pikaci's Incus path:
//!   stale delete, artifacts folder, init with the devices, start, the guest
//!   binary, result; the instance's delete runs after the result is
//!   recorded, beside the next job), and the whole command (process start,
//!   snapshot, records and the delete, which the run waits for);
//! - ten jobs with `--jobs 1`: the whole `pikaci run` against ten bare
//!   sequences one after the other;
//! - pikaci's own time per step, averaged from the run records' phases.
//!
//! Goals: a job's time at most 0.6x the bare sequence; ten jobs with
//! `--jobs 1` at most 0.7x ten bare sequences. `PIKACI_BENCH_ROUNDS` sets the
//! number of one-job rounds (default 10; the ten-job pairing runs a third
//! as many rounds, at least 2).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::RunRecord;

const PROJECT: &str = "pikaci-tests";
const FIX: &str = "run `bash scripts/test-setup.sh` first";

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("incus_overhead: run with `cargo bench -p pikaci-cli --bench incus_overhead`");
        return;
    }
    let rounds: usize = std::env::var("PIKACI_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    let workspace = Utf8Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let image = test_image(workspace);
    let dir = tempfile::tempdir().expect("bench dir");
    let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).expect("utf-8");
    let prefix = format!("bench-{:06x}", std::process::id() & 0xff_ffff);
    println!(
        "Incus per-job overhead: {rounds} rounds of a job running `true` in a system container \
         of {image} (project {PROJECT})"
    );

    let repo = repo(&root, &image, &prefix, 1);
    let state = root.join("state");
    let (mut bare, mut whole) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        if round % 2 == 0 {
            bare.push(bare_job(&image, &prefix, round));
            whole.push(pikaci(&repo, &state, &root));
        } else {
            whole.push(pikaci(&repo, &state, &root));
            bare.push(bare_job(&image, &prefix, round));
        }
    }
    let left = instances_with(&prefix);
    assert!(left.is_empty(), "instances left behind: {left:?}");
    let records = records(&state);
    let path: Vec<Duration> = records
        .iter()
        .flat_map(|r| &r.jobs)
        .filter_map(|j| {
            let end = j.finished_at?;
            Duration::try_from(end.duration_since(j.started_at)).ok()
        })
        .collect();

    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    let (bare_m, path_m, whole_m) = (median(&bare), median(&path), median(&whole));
    let (bare_b, path_b) = (best(&bare), best(&path));
    println!(
        "bare launch + exec + delete:   median {bare_m:?} (best {bare_b:?}, worst {:?})",
        worst(&bare)
    );
    println!(
        "pikaci's Incus path per job:   median {path_m:?} (best {path_b:?}, worst {:?}): \
         {:.2}x bare by median, {:.2}x by best (goal: at most 0.6x; the delete runs after)",
        worst(&path),
        ratio(path_m, bare_m),
        ratio(path_b, bare_b)
    );
    println!(
        "whole `pikaci run` of one job: median {whole_m:?} (best {:?}): {:.2}x bare \
         (process start, snapshot, run records and the delete the run waits for included)",
        best(&whole),
        ratio(whole_m, bare_m)
    );
    print_phases(&records);
    ten_jobs(&root, &image, &prefix, rounds.div_ceil(3).max(2));
}

/// Ten jobs with `--jobs 1` against ten bare sequences, alternating.
fn ten_jobs(root: &Utf8Path, image: &str, prefix: &str, rounds: usize) {
    let repo = repo(&root.join("ten"), image, prefix, 10);
    let state = root.join("ten-state");
    let (mut bare, mut whole) = (Vec::new(), Vec::new());
    let ten_bare = |round: usize| -> Duration {
        (0..10)
            .map(|i| bare_job(image, prefix, 1000 + round * 10 + i))
            .sum()
    };
    for round in 0..rounds {
        if round % 2 == 0 {
            bare.push(ten_bare(round));
            whole.push(pikaci_args(&repo, &state, root, &["run", "--jobs", "1"]));
        } else {
            whole.push(pikaci_args(&repo, &state, root, &["run", "--jobs", "1"]));
            bare.push(ten_bare(round));
        }
    }
    let left = instances_with(prefix);
    assert!(left.is_empty(), "instances left behind: {left:?}");
    let (bare_m, whole_m) = (median(&bare), median(&whole));
    println!(
        "ten jobs, `pikaci run --jobs 1`: median {whole_m:?} (best {:?}) against ten bare \
         sequences {bare_m:?} (best {:?}): {:.2}x by median (goal: at most 0.7x), {rounds} rounds",
        best(&whole),
        best(&bare),
        whole_m.as_secs_f64() / bare_m.as_secs_f64()
    );
}

/// The test image's alias, named as `scripts/incus-test-setup.sh` names it.
fn test_image(workspace: &Utf8Path) -> String {
    let out = Command::new("sh")
        .current_dir(workspace)
        .args([
            "-c",
            "LC_ALL=C cat pikaci-incus/src/guest/*.rs pikaci-incus/src/bin/pikaci-incus-run.rs \
             scripts/incus-container-image.sh | sha256sum | cut -c1-12",
        ])
        .output()
        .expect("sh");
    let alias = format!(
        "pikaci/test-{}",
        String::from_utf8_lossy(&out.stdout).trim()
    );
    let ok = incus(&["image", "info", "--project", PROJECT, &alias]);
    assert!(
        ok.status.success(),
        "the test image {alias} is missing: {FIX}"
    );
    alias
}

fn incus(args: &[&str]) -> std::process::Output {
    Command::new("incus")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run incus ({e}): {FIX}"))
}

fn must(args: &[&str]) {
    let out = incus(args);
    assert!(out.status.success(), "incus {args:?}: {out:?}");
}

fn instances_with(prefix: &str) -> Vec<String> {
    let out = incus(&["list", "--project", PROJECT, "--format", "csv", "-c", "n"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|n| n.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

fn bare_job(image: &str, prefix: &str, round: usize) -> Duration {
    let name = format!("{prefix}-bare-{round}");
    let t = Instant::now();
    must(&["launch", "--project", PROJECT, image, &name]);
    must(&["exec", "--project", PROJECT, &name, "--", "true"]);
    must(&["delete", "--project", PROJECT, &name, "--force"]);
    t.elapsed()
}

/// A repository with `jobs` Incus jobs running `true`.
fn repo(root: &Utf8Path, image: &str, prefix: &str, jobs: usize) -> Utf8PathBuf {
    let repo = root.join("repo");
    std::fs::create_dir_all(&repo).expect("repo");
    let mut pipeline = format!(
        "[incus]\nproject = \"{PROJECT}\"\nimage_alias = \"{image}\"\n\
         instance_type = \"container\"\ninstance_prefix = \"{prefix}\"\n"
    );
    for i in 0..jobs {
        pipeline.push_str(&format!(
            "[[job]]\nid = \"j{i}\"\ncommand = \"true\"\nexecutor = \"incus\"\n"
        ));
    }
    std::fs::write(repo.join("pikaci.toml"), pipeline).expect("pipeline");
    repo
}

fn pikaci(repo: &Utf8Path, state: &Utf8Path, root: &Utf8Path) -> Duration {
    pikaci_args(repo, state, root, &["run"])
}

fn pikaci_args(repo: &Utf8Path, state: &Utf8Path, root: &Utf8Path, args: &[&str]) -> Duration {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_pikaci"))
        .current_dir(repo)
        .arg("--state-root")
        .arg(state)
        .args(args)
        .env(
            "PIKACI_REMOTE_LINUX_VM_INCUS_ARTIFACTS_DIR",
            root.join("artifacts"),
        )
        .output()
        .expect("pikaci runs");
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    took
}

fn records(state: &Utf8Path) -> Vec<RunRecord> {
    std::fs::read_dir(state.join("runs"))
        .expect("runs")
        .map(|e| {
            let run = e.expect("entry").path();
            serde_json::from_slice(&std::fs::read(run.join("run.json")).expect("run.json"))
                .expect("a run record")
        })
        .collect()
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn best(v: &[Duration]) -> Duration {
    *v.iter().min().expect("rounds")
}

fn worst(v: &[Duration]) -> Duration {
    *v.iter().max().expect("rounds")
}

/// Average time per phase over every job, and what is left of the job's
/// time outside the phases (the engine's own work).
fn print_phases(records: &[RunRecord]) {
    let mut per_phase: BTreeMap<(usize, String), Vec<u64>> = BTreeMap::new();
    let mut outside = Vec::new();
    for job in records.iter().flat_map(|r| &r.jobs) {
        let Some(exec) = &job.remote_linux_vm_execution else {
            continue;
        };
        let mut sum = 0;
        for (i, p) in exec.phases.iter().enumerate() {
            per_phase
                .entry((i, p.phase.clone()))
                .or_default()
                .push(p.duration_ms);
            // The delete runs after the job's result is recorded.
            if job.finished_at.is_some_and(|end| p.finished_at <= end) {
                sum += p.duration_ms;
            }
        }
        if let Some(end) = job.finished_at {
            let total = end.duration_since(job.started_at).as_millis();
            outside.push(u64::try_from(total).unwrap_or(0).saturating_sub(sum));
        }
    }
    println!(
        "pikaci's time per step (mean over {} jobs, from run.json; delete_instance after the result):",
        outside.len()
    );
    let mean = |v: &[u64]| v.iter().sum::<u64>() as f64 / v.len().max(1) as f64;
    for ((_, phase), ms) in &per_phase {
        println!("  {phase:<18} {:>7.1} ms", mean(ms));
    }
    println!("  {:<18} {:>7.1} ms", "(outside phases)", mean(&outside));
}

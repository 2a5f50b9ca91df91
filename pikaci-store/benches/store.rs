//! Store benchmarks that print figures (not pass/fail): `cargo bench -p pikaci-store`.
//!
//! - tail 64 KiB of a 1 MiB and of a 1 GiB log (warm), the way a logs request
//!   reads it (run → job → log → range): goal well under 1 ms, within 2x
//! - list the newest 50 of 100,000 runs: goal under 50 ms
//!
//! Files are made under `CARGO_TARGET_TMPDIR` (or `PIKACI_BENCH_DIR`). The 1 GiB
//! logs are sparse files with 1 MiB of real text at the end: the tail read
//! touches only that end, as with a real log.

use std::io::Write;
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;
use jiff::Timestamp;
use pikaci_core::{JobId, LogFile, RunId, RunRecord};
use pikaci_store::{LogRange, Store};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

fn main() {
    // `cargo test --benches` runs this binary with `--bench` absent: stay quick then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("store benchmarks: run with `cargo bench -p pikaci-store`");
        return;
    }
    let base = std::env::var("PIKACI_BENCH_DIR")
        .unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").to_owned());
    let dir = tempfile::tempdir_in(&base).expect("bench dir");
    let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).expect("utf-8 bench dir");
    println!("pikaci-store benchmarks in {root}");
    tail_bench(&root);
    list_bench(&root);
}

fn stats(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    let p50 = samples[samples.len() / 2];
    let p99 = samples[(samples.len() * 99 / 100).min(samples.len() - 1)];
    (mean, p50, p99)
}

fn make_log(store: &Store, run: &RunId, job: &JobId, size: u64) {
    let mut w = store
        .open_job_log(run, job, LogFile::Guest)
        .expect("open log");
    let real = size.min(MIB);
    let path = store.root().job_log(run, job, LogFile::Guest);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(size - real))
        .expect("sparse prefix");
    let line = b"   Compiling pikaci-core v0.1.0 (/work/pikaci-core) \x1b[32mok\x1b[0m\n";
    let mut written = 0;
    while written < real {
        let n = (real - written).min(line.len() as u64) as usize;
        w.write_all(&line[..n]).expect("write log");
        written += n as u64;
    }
}

fn tail_bench(root: &Utf8PathBuf) {
    let store = Store::open(root.join("tail"));
    let job: JobId = "job".parse().expect("job id");
    let mut results = Vec::new();
    for (label, size) in [("1 MiB", MIB), ("1 GiB", GIB)] {
        let mut rec = RunRecord::for_test(RunId::new_at(Timestamp::now()).as_str());
        rec.jobs[0].id = job.clone();
        store.persist_run_record(&rec).expect("persist");
        make_log(&store, &rec.run_id, &job, size);
        let read = || {
            let t = Instant::now();
            let chunk = store
                .run(&rec.run_id)
                .and_then(|run| run.job(Some(&job)))
                .and_then(|job| job.log(LogFile::Guest).read(LogRange::Tail(64 * KIB)))
                .expect("tail");
            let elapsed = t.elapsed();
            assert!(chunk.len >= 64 * KIB - 3);
            elapsed
        };
        for _ in 0..50 {
            read();
        }
        let samples: Vec<_> = (0..2000).map(|_| read()).collect();
        let (mean, p50, p99) = stats(samples);
        println!(
            "tail 64 KiB of a {label} log (run → job → log → read, warm): mean {mean:?}  p50 {p50:?}  p99 {p99:?}"
        );
        results.push(mean);
    }
    let ratio = results[1].as_secs_f64() / results[0].as_secs_f64();
    println!("  1 GiB / 1 MiB mean ratio: {ratio:.2}x (goal: within 2x, each well under 1 ms)");
}

fn list_bench(root: &Utf8PathBuf) {
    let store = Store::open(root.join("list"));
    let runs = store.root().runs_dir();
    std::fs::create_dir_all(&runs).expect("runs dir");
    let start: Timestamp = "2026-01-01T00:00:00Z".parse().expect("time");
    let t = Instant::now();
    for i in 0..100_000u32 {
        let id = RunId::from_parts(start + Duration::from_secs(u64::from(i) * 7), i);
        std::fs::create_dir(runs.join(id.as_str())).expect("run dir");
    }
    println!("created 100,000 run folders in {:?}", t.elapsed());
    let list = || {
        let t = Instant::now();
        let ids = store.list_runs(None, 50).expect("list");
        let e = t.elapsed();
        assert_eq!(ids.len(), 50);
        e
    };
    list();
    let (mean, p50, p99) = stats((0..30).map(|_| list()).collect());
    println!(
        "list newest 50 of 100,000 runs: mean {mean:?}  p50 {p50:?}  p99 {p99:?} (goal: under 50 ms)"
    );
}

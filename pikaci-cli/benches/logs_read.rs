//! `pikaci logs` of a whole 1 GiB log against `cat` of the same file, printed
//! as figures (not pass/fail): `cargo bench -p pikaci-cli --bench logs_read`.
//!
//! Goal: `pikaci logs RUN --job J` within 1.5x of `cat`, both into
//! `/dev/null` and into a pipe that this benchmark drains.
//!
//! The log is 1 GiB of generated build output (real bytes, not a sparse file)
//! under `CARGO_TARGET_TMPDIR` (or `PIKACI_BENCH_DIR`); both commands read it
//! warm from the page cache. The machine may be shared, so each side runs
//! several times, alternating, and the median and the best are printed.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::{JobId, LogFile, RunId, RunRecord};
use pikaci_store::Store;

const MIB: usize = 1 << 20;
const GIB: u64 = 1 << 30;
const ROUNDS: usize = 7;

fn main() {
    // `cargo test --benches` runs this binary without `--bench`: stay quick then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("logs_read: run with `cargo bench -p pikaci-cli --bench logs_read`");
        return;
    }
    let base = std::env::var("PIKACI_BENCH_DIR")
        .unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").to_owned());
    let dir = tempfile::tempdir_in(base).expect("bench dir");
    let root = Utf8PathBuf::from_path_buf(dir.path().to_owned()).expect("utf-8");
    println!("pikaci logs benchmarks in {root}");
    let (state, run, job, log) = make_run(&root);
    let pikaci = |sink: Sink| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pikaci"));
        c.arg("--state-root")
            .arg(&state)
            .args(["logs", run.as_str(), "--job", job.as_str()]);
        timed(c, sink)
    };
    let cat = |sink: Sink| {
        let mut c = Command::new("cat");
        c.arg(&log);
        timed(c, sink)
    };
    // Warm the page cache and check both print the whole log.
    let (_, n) = cat(Sink::Pipe);
    assert_eq!(n, GIB, "cat printed the whole log");
    let (_, n) = pikaci(Sink::Pipe);
    assert!(n > GIB, "pikaci printed the whole log and its headers");
    for sink in [Sink::DevNull, Sink::Pipe] {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            if round % 2 == 0 {
                ours.push(pikaci(sink).0);
                theirs.push(cat(sink).0);
            } else {
                theirs.push(cat(sink).0);
                ours.push(pikaci(sink).0);
            }
        }
        let (o_best, t_best) = (
            *ours.iter().min().expect("rounds"),
            *theirs.iter().min().expect("rounds"),
        );
        let (o, t) = (median(ours), median(theirs));
        println!(
            "1 GiB log into {}: pikaci logs {o:?}, cat {t:?}: {:.2}x by median of {ROUNDS}; best {o_best:?} vs {t_best:?}: {:.2}x (goal: at most 1.5x)",
            sink.name(),
            o.as_secs_f64() / t.as_secs_f64(),
            o_best.as_secs_f64() / t_best.as_secs_f64(),
        );
    }
}

#[derive(Debug, Clone, Copy)]
enum Sink {
    DevNull,
    Pipe,
}

impl Sink {
    fn name(self) -> &'static str {
        match self {
            Self::DevNull => "/dev/null",
            Self::Pipe => "a pipe",
        }
    }
}

/// Runs `cmd` with its output going to `sink`; how long it took and how many
/// bytes came out (0 for `/dev/null`).
fn timed(mut cmd: Command, sink: Sink) -> (Duration, u64) {
    let t = Instant::now();
    let (status, bytes) = match sink {
        Sink::DevNull => (cmd.stdout(Stdio::null()).status().expect("spawn"), 0),
        Sink::Pipe => {
            let mut child = cmd.stdout(Stdio::piped()).spawn().expect("spawn");
            let mut out = child.stdout.take().expect("stdout");
            let mut buf = vec![0u8; MIB];
            let mut bytes = 0u64;
            loop {
                match out.read(&mut buf).expect("read") {
                    0 => break,
                    n => bytes += n as u64,
                }
            }
            (child.wait().expect("wait"), bytes)
        }
    };
    let took = t.elapsed();
    assert!(status.success(), "{cmd:?} failed");
    (took, bytes)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// A finished run whose job `build` has a 1 GiB guest log and a short host log.
fn make_run(root: &Utf8Path) -> (Utf8PathBuf, RunId, JobId, Utf8PathBuf) {
    let state = root.join("state");
    let store = Store::open(&state);
    let record = RunRecord::for_test("20260324T161238Z-1a2b3c4d");
    store.persist_run_record(&record).expect("record");
    let job = record.jobs[0].id.clone();
    store
        .open_job_log(&record.run_id, &job, LogFile::Host)
        .expect("host log")
        .write_all(b"[pikaci] a short account\n")
        .expect("host log");
    let path = store.root().job_log(&record.run_id, &job, LogFile::Guest);
    let line = b"   Compiling pikaci-core v0.1.0 (/work/pikaci-core) \x1b[32mok\x1b[0m\n";
    let block: Vec<u8> = line.iter().copied().cycle().take(MIB).collect();
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("guest log"));
    for _ in 0..GIB / MIB as u64 {
        f.write_all(&block).expect("write");
    }
    f.flush().expect("flush");
    (state, record.run_id, job, path)
}

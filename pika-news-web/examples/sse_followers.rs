//! Many clients following one job's log stream at once, for the load script
//! (`pika-news-web/bench/load.sh`): prints how long each line took from the
//! moment the job wrote it to the moment a client had it.
//!
//! ```text
//! sse_followers --addr 127.0.0.1:8787 --token T \
//!   --path '/news/api/forge/pikaci/logs/RUN/stream?job=live' \
//!   --clients 1000 --go-file /tmp/go --seconds 20
//! ```
//!
//! Each line the job writes starts with the time it was written (bash's
//! `$EPOCHREALTIME`, seconds with microseconds). Every client connects, and
//! once all have their first event the go file is created (the job waits for
//! it); each client then reads for `--seconds` and records, for every line,
//! now minus the time in it. Plain HTTP/1.1 over TCP with a small chunked
//! decoder, so nothing but tokio is needed.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{Barrier, Mutex};

struct Args {
    addr: String,
    token: String,
    path: String,
    clients: usize,
    go_file: String,
    seconds: u64,
}

fn args() -> Args {
    let mut a = Args {
        addr: String::new(),
        token: String::new(),
        path: String::new(),
        clients: 1000,
        go_file: String::new(),
        seconds: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => a.addr = value,
            "--token" => a.token = value,
            "--path" => a.path = value,
            "--clients" => a.clients = value.parse().expect("--clients N"),
            "--go-file" => a.go_file = value,
            "--seconds" => a.seconds = value.parse().expect("--seconds N"),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(
        !a.addr.is_empty() && !a.path.is_empty(),
        "--addr and --path are needed"
    );
    a
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_micros() as i64
}

/// `1712345678.123456 line 7 ...` → microseconds since the epoch.
fn written_at(line: &str) -> Option<i64> {
    let stamp = line.split_whitespace().next()?;
    let (secs, micros) = stamp.split_once('.')?;
    Some(secs.parse::<i64>().ok()? * 1_000_000 + micros.parse::<i64>().ok()?)
}

/// A chunked HTTP body, read as text lines of the SSE stream inside it.
struct Chunked {
    io: BufReader<TcpStream>,
    left: usize,
    pending: Vec<u8>,
}

impl Chunked {
    /// The next SSE line (without its newline); `None` at the end.
    async fn line(&mut self) -> std::io::Result<Option<String>> {
        loop {
            if let Some(i) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=i).collect();
                return Ok(Some(String::from_utf8_lossy(&line[..i]).into_owned()));
            }
            if self.left == 0 {
                let mut size = String::new();
                if self.io.read_line(&mut size).await? == 0 {
                    return Ok(None);
                }
                if size.trim().is_empty() {
                    continue; // the CRLF after a chunk
                }
                self.left = usize::from_str_radix(size.trim(), 16)
                    .map_err(|e| std::io::Error::other(format!("chunk size {size:?}: {e}")))?;
                if self.left == 0 {
                    return Ok(None);
                }
            }
            let mut buf = vec![0u8; self.left.min(64 * 1024)];
            let n = self.io.read(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            self.left -= n;
            self.pending.extend_from_slice(&buf[..n]);
        }
    }
}

#[derive(Default)]
struct Totals {
    latencies_us: Vec<i64>,
    lines: u64,
    failed: u64,
    ended_early: u64,
}

async fn follow(
    args: Arc<Args>,
    ready: Arc<Barrier>,
    totals: Arc<Mutex<Totals>>,
) -> std::io::Result<()> {
    let stream = TcpStream::connect(&args.addr).await?;
    let mut io = BufReader::new(stream);
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nAccept: text/event-stream\r\n\r\n",
        args.path, args.addr, args.token
    );
    io.get_mut().write_all(request.as_bytes()).await?;
    let mut status = String::new();
    io.read_line(&mut status).await?;
    if !status.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!("answered {}", status.trim())));
    }
    loop {
        let mut header = String::new();
        io.read_line(&mut header).await?;
        if header.trim().is_empty() {
            break;
        }
    }
    let mut body = Chunked {
        io,
        left: 0,
        pending: Vec::new(),
    };
    // The first event (the job's status) says this client is in.
    while body.line().await?.is_some_and(|l| !l.is_empty()) {}
    ready.wait().await;
    let until = tokio::time::Instant::now() + Duration::from_secs(args.seconds);
    let mut mine = Vec::new();
    let mut lines = 0u64;
    let mut ended = false;
    loop {
        let line = match tokio::time::timeout_at(until, body.line()).await {
            Err(_) => break,
            Ok(line) => line?,
        };
        let Some(line) = line else {
            ended = true;
            break;
        };
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        let Ok(text) = serde_json::from_str::<String>(data) else {
            continue; // status and end events carry objects
        };
        let now = now_us();
        for l in text.lines() {
            if let Some(at) = written_at(l) {
                mine.push(now - at);
                lines += 1;
            }
        }
    }
    let mut t = totals.lock().await;
    t.latencies_us.extend(mine);
    t.lines += lines;
    t.ended_early += u64::from(ended);
    Ok(())
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let args = Arc::new(args());
    let totals = Arc::new(Mutex::new(Totals::default()));
    // Every client, and this task that starts the job once all are in.
    let ready = Arc::new(Barrier::new(args.clients + 1));
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let (args, ready, totals) = (args.clone(), ready.clone(), totals.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = follow(args, ready.clone(), totals.clone()).await {
                eprintln!("a follower failed: {e}");
                totals.lock().await.failed += 1;
            }
        }));
    }
    let connected = tokio::time::timeout(Duration::from_secs(60), ready.wait()).await;
    if connected.is_err() {
        eprintln!("not every follower connected within 60 s");
        std::process::exit(1);
    }
    if !args.go_file.is_empty() {
        std::fs::write(&args.go_file, b"go\n").expect("the go file");
    }
    for t in tasks {
        let _ = t.await;
    }
    let mut t = totals.lock().await;
    t.latencies_us.sort_unstable();
    let per_client = t.lines as f64 / args.clients as f64;
    println!(
        "{} followers, {} failed, {} streams ended before the measurement did",
        args.clients, t.failed, t.ended_early
    );
    println!(
        "{} lines received ({per_client:.0} per follower in {} s)",
        t.lines, args.seconds
    );
    println!(
        "write-to-client latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (goal: p99 at most 100 ms)",
        percentile(&t.latencies_us, 0.50),
        percentile(&t.latencies_us, 0.99),
        percentile(&t.latencies_us, 1.0),
    );
}

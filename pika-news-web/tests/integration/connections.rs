//! Connections that never send a request cannot take the server's file
//! descriptors: the real binary under a 256-file limit, 300 idle sockets,
//! and `/health` still answers.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::served::{Site, request};

/// The soft and hard open-file limits of a process, from `/proc/<pid>/limits`.
fn nofile(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let mut words = line["Max open files".len()..].split_whitespace();
    (
        words.next().unwrap().to_owned(),
        words.next().unwrap().to_owned(),
    )
}

fn prlimit() -> &'static str {
    ["/usr/bin/prlimit", "/bin/prlimit"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("prlimit (util-linux) is needed: run `bash scripts/test-setup.sh`")
}

#[test]
fn three_hundred_idle_sockets_under_a_256_file_limit_do_not_stop_health() {
    let site = Site::new("");
    let mut server = site.serve(&[], &[prlimit(), "--nofile=256:256", "--"]);
    assert_eq!(nofile(server.pid), ("256".into(), "256".into()));
    assert!(
        server.log().contains("max_connections=192"),
        "{}",
        server.log()
    );

    // 300 sockets that never send a byte.
    let idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    let started = Instant::now();
    let health = request(&server.addr, "GET", "/health", None, Duration::from_secs(5))
        .expect("/health answers while 300 idle sockets are open");
    assert_eq!(health.status, 200);
    assert!(
        health.head.contains("content-type: application/json"),
        "{}",
        health.head
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    eprintln!("/health answered in {took:?} with 300 idle sockets open");
    // Again and again: each new connection takes the place of an idle one.
    for _ in 0..20 {
        let a = request(&server.addr, "GET", "/health", None, Duration::from_secs(5)).unwrap();
        assert_eq!(a.status, 200);
    }
    // The idle ones are closed by the server (evicted, or at the header timeout).
    let closed = idle
        .iter()
        .filter(|s| {
            use std::io::Read as _;
            // Beyond the 10 s header timeout: each one is closed by then.
            s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
            loop {
                match (&**s).read(&mut [0u8; 1]) {
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Ok(0) => break true,
                    // A timeout: the server kept it open.
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
                    Err(_) => break true,
                    Ok(_) => break false,
                }
            }
        })
        .count();
    assert_eq!(closed, 300);
    drop(idle);
    server.signal("TERM");
    assert!(
        server
            .wait_exit(Duration::from_secs(10))
            .is_some_and(|s| s.success())
    );
}

#[test]
fn the_open_file_limit_is_raised_to_the_hard_limit_at_start() {
    let site = Site::new("");
    let server = site.serve(&[], &[prlimit(), "--nofile=256:4096", "--"]);
    assert_eq!(nofile(server.pid), ("4096".into(), "4096".into()));
    assert!(
        server.log().contains("max_connections=1024"),
        "{}",
        server.log()
    );
}

#[test]
fn a_slow_header_is_cut_at_the_header_timeout_and_an_idle_keep_alive_at_the_idle_timeout() {
    use std::io::{Read as _, Write as _};
    let site = Site::new("[http]\nheader_read_timeout_secs = 2\nidle_timeout_secs = 1\n");
    let server = site.serve(&[], &[]);
    // Half a request head, then nothing.
    let mut slow = TcpStream::connect(&server.addr).unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // A kept-alive connection after its answer.
    let mut kept = TcpStream::connect(&server.addr).unwrap();
    kept.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    kept.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut all = Vec::new();
    let _ = kept.read_to_end(&mut all);
    let took = started.elapsed();
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 200"));
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(4),
        "{took:?}"
    );
}

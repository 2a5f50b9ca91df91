//! A real `pika-news serve` process over a real forge folder: a canonical
//! bare repository, a working clone that pushes to it, a configuration file
//! and a read token, and a small HTTP client with timeouts.
//!
//! Tests here drive real processes (the server, pikaci, jobs), so they poll
//! with short pauses where a unit test would pause tokio's clock.

use std::io::{BufRead as _, Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt as _;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};

use crate::forge::{init_repos, pikaci_bin};

/// The user lanes run as in the sandbox tests (made by `scripts/test-setup.sh`).
pub(crate) const LANE_USER: &str = "pika-lane";

/// The lane user's uid and gid; fails with the fix when it is missing.
pub(crate) fn lane_user() -> (u32, u32) {
    let user = nix::unistd::User::from_name(LANE_USER)
        .unwrap()
        .unwrap_or_else(|| {
            panic!(
                "the user {LANE_USER} is missing: run `bash scripts/test-setup.sh` (it creates it)"
            )
        });
    (user.uid.as_raw(), user.gid.as_raw())
}

/// A forge folder with a configuration for `pika-news serve`.
pub(crate) struct Site {
    _dir: tempfile::TempDir,
    pub(crate) root: Utf8PathBuf,
    pub(crate) bare: Utf8PathBuf,
    pub(crate) work: Utf8PathBuf,
    pub(crate) config: Utf8PathBuf,
    pub(crate) db: Utf8PathBuf,
    pub(crate) data: Utf8PathBuf,
    pub(crate) state_root: Utf8PathBuf,
    /// A read token, made with the CLI before the server starts.
    pub(crate) token: String,
}

/// The `pika-news` binary of this build.
pub(crate) fn pika_news_bin() -> &'static str {
    env!("CARGO_BIN_EXE_pika-news")
}

/// Runs the `pika-news` binary with `args` to its end.
pub(crate) fn pika_news(args: &[&str]) -> Output {
    Command::new(pika_news_bin()).args(args).output().unwrap()
}

impl Site {
    /// A site whose configuration ends with `extra` (e.g. a `[lanes]` table).
    pub(crate) fn new(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::try_from(dir.path().canonicalize().unwrap()).unwrap();
        // Others may pass through (to reach a lane's worktree), not list.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o711)).unwrap();
        let (bare, work) = init_repos(&root);
        let config = root.join("pika-news.toml");
        std::fs::write(
            &config,
            format!(
                "bind_port = 0\ndatabase = \"news.sqlite\"\n[forge_repo]\nrepo = \"sledtools/pika\"\n\
                 canonical_git_dir = \"git/pika.git\"\npikaci_bin = \"{}\"\ndata_dir = \"data\"\n\
                 poll_interval_secs = 1\nlane_timeout_secs = 600\n{extra}\n",
                pikaci_bin()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
        let out = pika_news(&[
            "token",
            "create",
            "--config",
            config.as_str(),
            "--name",
            "reader",
            "--role",
            "read",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        Self {
            _dir: dir,
            db: root.join("news.sqlite"),
            data: root.join("data"),
            state_root: pika_news_web::pikaci_state_root("sledtools/pika", &bare),
            root,
            bare,
            work,
            config,
            token,
        }
    }

    /// Writes files in the working clone, commits and pushes `branch`.
    pub(crate) fn push(&self, branch: &str, files: &[(&str, &str)]) {
        crate::forge::push(&self.work, &self.bare, branch, files);
    }

    /// Starts `pika-news serve` with `env` added to this process's
    /// environment, through `wrapper` (e.g. `prlimit ...`) if given, and
    /// waits until it listens.
    pub(crate) fn serve(&self, env: &[(&str, &str)], wrapper: &[&str]) -> Server {
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(pika_news_bin());
                c
            }
            None => Command::new(pika_news_bin()),
        };
        cmd.args(["serve", "--config", self.config.as_str()])
            .envs(env.iter().copied())
            .env("RUST_LOG", "pika_news_web=info,pika_news=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        Server::start(cmd)
    }
}

/// A running `pika-news serve`.
pub(crate) struct Server {
    child: Child,
    pub(crate) pid: u32,
    pub(crate) addr: String,
    log: Arc<Mutex<String>>,
    /// The thread that keeps reading its log; ends when the log closes.
    drain: Option<JoinHandle<()>>,
}

/// An HTTP answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One request on a new connection, the whole answer within `timeout`.
pub(crate) fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    timeout: Duration,
) -> std::io::Result<Answer> {
    let mut s = TcpStream::connect_timeout(&addr.parse().unwrap(), timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: t\r\n{auth}Connection: close\r\n\r\n"
    )?;
    let deadline = Instant::now() + timeout;
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        if Instant::now() > deadline {
            return Err(std::io::Error::from(std::io::ErrorKind::TimedOut));
        }
        // Other tests in this process have signal handlers: a read may be interrupted.
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no head in {} bytes", raw.len())))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut body = raw[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(Answer { status, head, body })
}

pub(crate) fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&raw[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&raw[start..(start + size).min(raw.len())]);
        raw = &raw[(start + size + 2).min(raw.len())..];
    }
    out
}

impl Server {
    /// Spawns `cmd` (a `pika-news serve` command line) with its stderr
    /// piped, waits until it logs the address it listens on, then keeps
    /// reading its log into [`log`](Self::log).
    pub(crate) fn start(mut cmd: Command) -> Self {
        let mut child = cmd.stderr(Stdio::piped()).spawn().unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        let addr = loop {
            let mut line = String::new();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "the server ended before it listened: {seen}"
            );
            seen.push_str(&line);
            if let Some(rest) = line.split("pika-news listening addr=").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        let log = Arc::new(Mutex::new(seen));
        let sink = log.clone();
        // Keep reading its log, so it never blocks on a full pipe.
        let drain = std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).unwrap_or(0) > 0 {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Self {
            pid: child.id(),
            child,
            addr,
            log,
            drain: Some(drain),
        }
    }

    /// Waits for the process to end, then for the rest of its log (so
    /// [`log`](Self::log) has all of it afterwards).
    pub(crate) fn wait(&mut self) -> ExitStatus {
        let status = self.child.wait().unwrap();
        if let Some(drain) = self.drain.take() {
            drain.join().unwrap();
        }
        status
    }

    /// `GET path` with `token`, within `timeout`.
    pub(crate) fn get(
        &self,
        path: &str,
        token: Option<&str>,
        timeout: Duration,
    ) -> std::io::Result<Answer> {
        request(&self.addr, "GET", path, token, timeout)
    }

    /// Sends `signal` (e.g. `TERM`, `KILL`).
    pub(crate) fn signal(&self, signal: &str) {
        Command::new("kill")
            .args([&format!("-{signal}"), &self.pid.to_string()])
            .status()
            .unwrap();
    }

    /// Waits up to `within` for the process to end.
    pub(crate) fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What it logged so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // A killed server's lane cgroups (their names hold its pid) would
        // wait for the next server of this host: ended here, with the test.
        let pid = format!("-{}-", self.child.id());
        if let Ok(root) = pikaci_core::cgroup::CgroupRoot::detect() {
            root.sweep("pika-news-lane-", |name| name.contains(&pid));
        }
    }
}

/// Polls `f` every 100 ms until it gives a value, for at most `within`.
pub(crate) fn wait_for<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The newest lane of branch `name` as the API shows it, once it exists.
pub(crate) fn lane_of(server: &Server, token: &str, name: &str) -> Option<serde_json::Value> {
    let t = Duration::from_secs(5);
    let b = server
        .get(
            &format!("/news/api/forge/branch/resolve?name={name}"),
            Some(token),
            t,
        )
        .ok()?;
    if b.status != 200 {
        return None;
    }
    let id = b.json()["id"].as_i64()?;
    let d = server
        .get(&format!("/news/api/forge/branch/{id}"), Some(token), t)
        .ok()?
        .json();
    d["suites"][0]["lanes"][0]
        .as_object()
        .map(|l| serde_json::Value::Object(l.clone()))
}

/// Whether a process with this pid exists (and is not a zombie).
pub(crate) fn alive(pid: i32) -> bool {
    pikaci_core::ProcStat::read(pid as u32).is_ok_and(|s| !s.is_dead())
}

/// Reads the pids a job wrote, one per line, once the file has `n` of them.
pub(crate) fn pids_in(file: &Utf8Path, n: usize) -> Option<Vec<i32>> {
    let text = std::fs::read_to_string(file).ok()?;
    let pids: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
    (pids.len() >= n).then_some(pids)
}

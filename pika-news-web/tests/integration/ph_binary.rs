//! The binary's side of switching from upstream: `manifest check`, and
//! `token create --ph-session` writing a session file that upstream's `ph`
//! reads, which then reaches the running server.

use std::io::{Read, Write};
use std::process::{Command, Output};

use camino::{Utf8Path, Utf8PathBuf};

use crate::ph_client::{MeResponse, Session, decode};
use crate::served::{Server, pika_news, pika_news_bin};

const PIKA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../pika-news-core/tests/fixtures/pika-forge-lanes.toml"
);

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn manifest_check_prints_the_lanes_that_would_run() {
    let out = pika_news(&[
        "manifest",
        "check",
        PIKA,
        "--changed",
        "AGENTS.md",
        "--changed",
        "README.md",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("valid; 10 branch lanes, 5 nightly lanes at 08:00 UTC"),
        "{stdout}"
    );
    assert!(
        stdout.contains("would run 2 of 10 branch lanes:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  pika_followup ") && stdout.contains("  agent_contracts "),
        "{stdout}"
    );
    assert!(!stdout.contains("  pika_rust "), "{stdout}");

    let out = pika_news(&["manifest", "check", PIKA]);
    assert!(text(&out.stdout).contains("would run 10 of 10 branch lanes:"));
}

#[test]
fn manifest_check_names_file_and_line_of_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = Utf8PathBuf::try_from(dir.path().join("lanes.toml")).unwrap();
    std::fs::write(
        &file,
        "version = 1\n\n[[branch.lanes]]\nid = \"a\"\nstaged_linux_target = \"t\"\ntimout_secs = 5\n",
    )
    .unwrap();
    let out = pika_news(&["manifest", "check", file.as_str()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!("{file}:6: ")) && err.contains("timout_secs"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    let out = pika_news(&[
        "manifest",
        "check",
        dir.path().join("nope.toml").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot read"),
        "{}",
        text(&out.stderr)
    );
}

fn config(dir: &Utf8Path, port: u16) -> Utf8PathBuf {
    let file = dir.join("pika-news.toml");
    std::fs::write(
        &file,
        format!("bind_port = {port}\ndatabase = \"news.sqlite\"\n[forge_repo]\nrepo = \"sledtools/pika\"\ncanonical_git_dir = \"git/pika.git\"\n"),
    )
    .unwrap();
    file
}

fn create_with_session(cfg: &Utf8Path, name: &str, role: &str, extra: &[&str]) -> (Output, String) {
    let session = cfg
        .parent()
        .unwrap()
        .join(format!("state/ph-{name}/session.json"));
    let mut args = vec![
        "token",
        "create",
        "--config",
        cfg.as_str(),
        "--name",
        name,
        "--role",
        role,
        "--ph-session",
        session.as_str(),
    ];
    args.extend_from_slice(extra);
    let out = pika_news(&args);
    (out, session.to_string())
}

#[test]
fn a_ph_session_file_reaches_the_server_as_ph_would() {
    let dir = tempfile::tempdir().unwrap();
    let root = Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();
    // The default address comes from the configuration.
    let cfg = config(&root, 8787);
    let (out, path) = create_with_session(&cfg, "carol", "read", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let session: Session = decode(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(session.base_url, "http://127.0.0.1:8787");
    // A bad address makes no token.
    let (out, _) = create_with_session(&cfg, "dave", "read", &["--base-url", "ci.example.org"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid base URL"),
        "{}",
        text(&out.stderr)
    );
    let list = text(&pika_news(&["token", "list", "--config", cfg.as_str()]).stdout);
    assert!(!list.contains("dave"), "{list}");

    // A running server, then a session made for its address.
    let cfg = config(&root, 0);
    let mut cmd = Command::new(pika_news_bin());
    cmd.args(["serve", "--config", cfg.as_str()]);
    let mut server = Server::start(cmd);
    let addr = server.addr.clone();
    for (name, role, admin, write) in [
        ("alice", "write", false, true),
        ("root", "admin", true, true),
    ] {
        let base = format!("http://{addr}/");
        let (out, path) = create_with_session(&cfg, name, role, &["--base-url", &base]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let printed = text(&out.stdout);
        let session: Session = decode(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(session.token, printed.trim());
        assert_eq!(session.base_url, format!("http://{addr}"));
        assert_eq!(
            (
                session.npub.as_str(),
                session.is_admin,
                session.can_forge_write
            ),
            (name, admin, write)
        );
        // What `ph whoami` does with it: GET {base_url}/news/api/me.
        let me: MeResponse =
            decode(&http_get(&session.base_url, "/news/api/me", &session.token)).unwrap();
        assert_eq!(
            (
                me.npub.as_str(),
                me.is_admin,
                me.can_chat,
                me.can_forge_write
            ),
            (name, admin, false, write)
        );
    }
    server.signal("TERM");
    assert!(server.wait().success());
}

/// A GET over a real socket, with the headers `ph` sends; the body of a 200.
fn http_get(base_url: &str, path: &str, token: &str) -> Vec<u8> {
    let host = base_url.strip_prefix("http://").unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = text(&raw[..at]);
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "{head}\n{}",
        text(&raw[at..])
    );
    raw[at + 4..].to_vec()
}

//! The `pika-news` binary: tokens from the command line, and `serve`.

use std::process::Command;

use camino::Utf8PathBuf;

fn config(dir: &tempfile::TempDir) -> Utf8PathBuf {
    let root = Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();
    let file = root.join("pika-news.toml");
    std::fs::write(
        &file,
        "bind_port = 0\ndatabase = \"data/news.sqlite\"\n[forge_repo]\nrepo = \"sledtools/pika\"\ncanonical_git_dir = \"git/pika.git\"\n",
    )
    .unwrap();
    file
}

fn pika_news(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pika-news"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn token_create_list_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&dir);
    let out = pika_news(&[
        "token",
        "create",
        "--config",
        cfg.as_str(),
        "--name",
        "bot",
        "--role",
        "write",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.lines().last().unwrap();
    assert!(token.starts_with("pn_") && token.len() == 67, "{stdout}");
    // The database was created where the config says, relative to the config file.
    assert!(dir.path().join("data/news.sqlite").exists());
    let db = std::fs::read(dir.path().join("data/news.sqlite")).unwrap();
    assert!(
        !String::from_utf8_lossy(&db).contains(token),
        "the secret itself is never stored"
    );

    let out = pika_news(&[
        "token",
        "create",
        "--config",
        cfg.as_str(),
        "--name",
        "bot",
        "--role",
        "read",
    ]);
    assert!(!out.status.success(), "duplicate names are refused");
    let out = pika_news(&[
        "token",
        "create",
        "--config",
        cfg.as_str(),
        "--name",
        "x",
        "--role",
        "root",
    ]);
    assert_eq!(out.status.code(), Some(2));

    let list =
        String::from_utf8(pika_news(&["token", "list", "--config", cfg.as_str()]).stdout).unwrap();
    assert!(
        list.contains("bot") && list.contains("write") && list.contains("active"),
        "{list}"
    );
    assert!(!list.contains(token));
    assert!(
        pika_news(&["token", "revoke", "--config", cfg.as_str(), "bot"])
            .status
            .success()
    );
    let list =
        String::from_utf8(pika_news(&["token", "list", "--config", cfg.as_str()]).stdout).unwrap();
    assert!(list.contains("revoked"), "{list}");
}

#[test]
fn a_bad_config_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Utf8PathBuf::try_from(dir.path().join("bad.toml")).unwrap();
    std::fs::write(&cfg, "bind_port = 80\nbind_prot = 1\n").unwrap();
    let out = pika_news(&["serve", "--config", cfg.as_str()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:2:") && err.contains("bind_prot"),
        "{err}"
    );
}

#[test]
fn serve_answers_never_logs_tokens_and_stops_on_sigterm() {
    use std::io::{BufRead, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    // Port 0: the server says which port it got when it is listening.
    let cfg = config(&dir);
    let mut child = Command::new(env!("CARGO_BIN_EXE_pika-news"))
        .args(["serve", "--config", cfg.as_str()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "the server ended before it listened"
        );
        if let Some(rest) = line.split("pika-news listening addr=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep reading its log, so it never blocks on a full pipe.
    let log = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        rest
    });
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    assert!(
        body.starts_with("HTTP/1.1 200") && body.contains("\"ok\""),
        "{body}"
    );
    nix_kill(child.id());
    let status = child.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
    assert!(log.join().unwrap().contains("shutting down"));
}

fn nix_kill(pid: u32) {
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
}

#[test]
fn completions_and_man_page() {
    let out = pika_news(&["generate", "man"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH pika-news"));
    let out = pika_news(&["generate", "completions", "bash"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("pika-news"));
    let help =
        String::from_utf8_lossy(&pika_news(&["token", "create", "--help"]).stdout).into_owned();
    assert!(
        help.contains("--role") && help.contains("printed once"),
        "{help}"
    );
}

//! The `pika-news` binary: tokens from the command line, and `serve`.

use std::process::Command;

use camino::Utf8PathBuf;

use crate::served::{Server, pika_news, pika_news_bin};

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

/// A `[forge_repo] lanes_manifest` that is missing or does not parse stops
/// `serve` before it starts, naming the file and what is wrong, instead of
/// failing each head's suite later.
#[test]
fn serve_refuses_a_lanes_manifest_it_cannot_read_or_parse() {
    let dir = tempfile::tempdir().unwrap();
    let root = Utf8PathBuf::try_from(dir.path().to_owned()).unwrap();
    let cfg = root.join("pika-news.toml");
    std::fs::write(
        &cfg,
        "bind_port = 0\ndatabase = \"data/news.sqlite\"\n[forge_repo]\nrepo = \"sledtools/pika\"\ncanonical_git_dir = \"git/pika.git\"\nlanes_manifest = \"pika-lanes.toml\"\n",
    )
    .unwrap();
    let manifest = root.join("pika-lanes.toml");
    let serve = || pika_news(&["serve", "--config", cfg.as_str()]);

    let out = serve();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{cfg}: [forge_repo] lanes_manifest {manifest} cannot be read"
        )) && err.contains("No such file"),
        "{err}"
    );
    assert!(!root.join("data").exists(), "nothing was started: {err}");

    std::fs::write(
        &manifest,
        "version = 1\n\n[[branch.lanes]]\nid = \"pre-merge\"\ncomand = [\"true\"]\n",
    )
    .unwrap();
    let out = serve();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{cfg}: [forge_repo] lanes_manifest is not valid: {manifest}:5:1: "
        )) && err.contains("comand"),
        "{err}"
    );

    // Tokens can still be managed while the manifest is being fixed.
    let out = pika_news(&["token", "list", "--config", cfg.as_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A valid one is taken: the server starts and answers.
    std::fs::write(
        &manifest,
        "version = 1\n\n[[branch.lanes]]\nid = \"pre-merge\"\ncommand = [\"true\"]\n",
    )
    .unwrap();
    let mut cmd = Command::new(pika_news_bin());
    cmd.args(["serve", "--config", cfg.as_str()]);
    let mut server = Server::start(cmd);
    server.signal("TERM");
    assert!(server.wait().success());
}

#[test]
fn serve_answers_never_logs_tokens_and_stops_on_sigterm() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    // Port 0: the server says which port it got when it is listening.
    let cfg = config(&dir);
    let mut cmd = Command::new(pika_news_bin());
    cmd.args(["serve", "--config", cfg.as_str()]);
    let mut server = Server::start(cmd);
    let mut s = std::net::TcpStream::connect(&server.addr).unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    assert!(
        body.starts_with("HTTP/1.1 200") && body.contains("\"ok\""),
        "{body}"
    );
    server.signal("TERM");
    let status = server.wait();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
    assert!(server.log().contains("shutting down"));
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

//! `pika-news hooks install` on a real server's repository, and real `git
//! push`es over the file protocol and over ssh to a real sshd on 127.0.0.1:
//! a push to the default branch is refused with the reason, a branch push
//! is taken and reaches the running server at once (its poll is an hour).

use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;

use crate::forge::sh;
use crate::served::{Server, Site, pika_news, wait_for};

const SSHD: &str = "/usr/sbin/sshd";
const FIX: &str =
    "run `bash scripts/test-setup.sh` (as root): it installs openssh-server and openssh-client";

/// A running sshd on 127.0.0.1 that lets root in with a key of its own, and
/// the `ssh` command line that reaches it. Stopped on drop.
struct Sshd {
    child: Child,
    port: u16,
    /// `ssh -F <config>`: what `GIT_SSH_COMMAND` is set to.
    ssh: String,
}

impl Sshd {
    fn start(home: &Utf8PathBuf) -> Self {
        for tool in [SSHD, "/usr/bin/ssh", "/usr/bin/ssh-keygen"] {
            assert!(
                std::path::Path::new(tool).exists(),
                "{tool} is missing: {FIX}"
            );
        }
        std::fs::create_dir_all(home).unwrap();
        let keygen = |path: &Utf8PathBuf| {
            let out = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f", path.as_str()])
                .output()
                .unwrap();
            assert!(out.status.success(), "ssh-keygen: {out:?}");
        };
        let (host_key, client_key) = (home.join("host_key"), home.join("client_key"));
        keygen(&host_key);
        keygen(&client_key);
        std::fs::copy(home.join("client_key.pub"), home.join("authorized_keys")).unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(
            home.join("sshd_config"),
            format!(
                "ListenAddress 127.0.0.1:{port}\nHostKey {host_key}\nAuthorizedKeysFile {home}/authorized_keys\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 UsePAM no\nStrictModes no\nPidFile none\nLogLevel FATAL\n"
            ),
        )
        .unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(home.join("sshd_config"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{SSHD}: {e}: {FIX}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd never listened on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        std::fs::write(
            home.join("ssh_config"),
            format!(
                "Host *\n  IdentityFile {client_key}\n  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  \
                 UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  BatchMode yes\n"
            ),
        )
        .unwrap();
        Self {
            child,
            port,
            ssh: format!("/usr/bin/ssh -F {home}/ssh_config"),
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `git push` from the working clone to `url` with `ssh` if given; (ok, stderr).
fn push(site: &Site, url: &str, refspec: &str, ssh: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new("git");
    cmd.current_dir(&site.work).args(["push", url, refspec]);
    if let Some(ssh) = ssh {
        cmd.env("GIT_SSH_COMMAND", ssh);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn commit(site: &Site, branch: &str, file: &str) {
    sh(
        &site.work,
        &format!(
            "(git checkout -q {branch} 2>/dev/null || git checkout -q -b {branch} main) && echo {file} > {file} && git add -A && git commit -qm {file}"
        ),
    );
}

fn head(site: &Site, branch: &str) -> Option<String> {
    let out = Command::new("git")
        .args([
            "--git-dir",
            site.bare.as_str(),
            "rev-parse",
            "--verify",
            "--quiet",
        ])
        .arg(format!("refs/heads/{branch}"))
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Waits until the server knows branch `name` (it polls once an hour: only
/// the hook's wake-up can make this quick).
fn seen(server: &Server, token: &str, name: &str) {
    wait_for(
        &format!("the server to see {name}"),
        Duration::from_secs(20),
        || {
            let a = server
                .get(
                    &format!("/git/api/forge/branch/resolve?branch_name={name}"),
                    Some(token),
                    Duration::from_secs(5),
                )
                .ok()?;
            (a.status == 200).then_some(())
        },
    );
}

#[test]
fn installed_hooks_refuse_the_default_branch_and_wake_the_server_over_file_and_ssh() {
    let site = Site::new("default_branch = \"main\"");
    // An hour between polls: a branch seen within seconds was seen by the wake-up.
    let text = std::fs::read_to_string(&site.config)
        .unwrap()
        .replace("poll_interval_secs = 1\n", "poll_interval_secs = 3600\n");
    std::fs::write(&site.config, text).unwrap();
    site.push("main", &[("README", "hi\n")]);

    let out = pika_news(&["hooks", "install", "--config", site.config.as_str()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("direct pushes to main are now refused"),
        "{stdout}"
    );
    let update = site.bare.join("hooks/update");
    assert_eq!(
        std::fs::metadata(&update).unwrap().permissions().mode() & 0o111,
        0o111
    );

    let server = site.serve(&[], &[]);
    seen(&server, &site.token, "main");

    // Over the file protocol.
    let file_url = format!("file://{}", site.bare);
    commit(&site, "main", "direct");
    let main = head(&site, "main");
    let (ok, stderr) = push(&site, &file_url, "main", None);
    assert!(!ok, "a push to main went through");
    assert!(
        stderr.contains("pika-news: direct pushes to main are refused; push a branch and merge it with `ph merge`"),
        "{stderr}"
    );
    assert_eq!(head(&site, "main"), main);
    sh(&site.work, "git reset -q --hard HEAD~1");
    commit(&site, "feature/by-file", "f1");
    let (ok, stderr) = push(&site, &file_url, "feature/by-file", None);
    assert!(ok, "{stderr}");
    seen(&server, &site.token, "feature/by-file");

    // Over ssh, as root@127.0.0.1 with a key.
    let sshd = Sshd::start(&site.root.join("sshd"));
    let ssh_url = format!("ssh://root@127.0.0.1:{}{}", sshd.port, site.bare);
    commit(&site, "main", "direct2");
    let (ok, stderr) = push(&site, &ssh_url, "main", Some(&sshd.ssh));
    assert!(!ok, "a push to main over ssh went through");
    assert!(
        stderr.contains("remote: pika-news: direct pushes to main are refused"),
        "{stderr}"
    );
    assert_eq!(head(&site, "main"), main);
    let (ok, stderr) = push(&site, &ssh_url, ":main", Some(&sshd.ssh));
    assert!(!ok, "deleting main over ssh went through: {stderr}");
    assert_eq!(head(&site, "main"), main);
    sh(
        &site.work,
        "git checkout -q main && git reset -q --hard HEAD~1",
    );
    commit(&site, "feature/by-ssh", "f2");
    let (ok, stderr) = push(&site, &ssh_url, "feature/by-ssh", Some(&sshd.ssh));
    assert!(ok, "{stderr}");
    seen(&server, &site.token, "feature/by-ssh");
}

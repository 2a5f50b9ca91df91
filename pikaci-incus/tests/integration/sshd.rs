//! A real OpenSSH server on 127.0.0.1 for `remote_host`: its own host key,
//! port and configuration in a test folder, a client key authorized for
//! root, and an `ssh` on `PATH` that is the real client reading a config
//! file for the host alias (as an operator's `~/.ssh/config` would).

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use camino::Utf8PathBuf;

use crate::support::TestDir;

const SSHD: &str = "/usr/sbin/sshd";
const SSH: &str = "/usr/bin/ssh";
const FIX: &str =
    "run `bash scripts/test-setup.sh` (as root): it installs openssh-server and openssh-client";

/// The host alias the client config defines.
pub(crate) const HOST_ALIAS: &str = "incus-host";

/// A running `sshd` and a folder holding an `ssh` that reaches it as
/// `root@incus-host`. Stopped on drop.
pub(crate) struct Sshd {
    child: Child,
    /// A folder to put first on `PATH`: its `ssh` is the real client with
    /// the test's config.
    pub(crate) bin: Utf8PathBuf,
}

impl Sshd {
    /// Starts a server in `dir/sshd`.
    pub(crate) fn start(dir: &TestDir) -> Self {
        for tool in [SSHD, SSH, "/usr/bin/ssh-keygen"] {
            assert!(
                std::path::Path::new(tool).exists(),
                "{tool} is missing: {FIX}"
            );
        }
        let home = dir.dir("sshd");
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
        // sshd's privilege separation folder.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = free_port();
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
            .stderr(Stdio::inherit())
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
                "Host {HOST_ALIAS}\n  HostName 127.0.0.1\n  Port {port}\n  IdentityFile {client_key}\n  \
                 IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n"
            ),
        )
        .unwrap();
        let bin = dir.dir("ssh-bin");
        std::fs::write(
            bin.join("ssh"),
            format!("#!/bin/sh\nexec {SSH} -F {home}/ssh_config \"$@\"\n"),
        )
        .unwrap();
        std::fs::set_permissions(
            bin.join("ssh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        Self { child, bin }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

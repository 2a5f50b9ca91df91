//! A command as data: program, arguments, environment and what its standard
//! input reads. Builders produce these; a [`crate::CommandRunner`] runs them.

use std::collections::BTreeMap;
use std::fmt;

use pikaci_core::contract::{shell_join, shell_quote};

/// What a command reads on its standard input (nothing, by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stdin {
    /// This text (the instance configuration `incus init` reads).
    Text(String),
    /// The standard output of another command, run on this machine and never
    /// wrapped (a local `tar` whose archive is unpacked in the guest).
    Pipe(Box<IncusCommand>),
}

/// One command to run: never a shell string, always an argv.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IncusCommand {
    /// The program (`incus`, `sudo`, `ssh`, ...).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment added to the inherited one.
    pub env: BTreeMap<String, String>,
    /// Its standard input; `None` is `/dev/null`.
    pub stdin: Option<Stdin>,
}

impl IncusCommand {
    /// A command with no extra environment.
    pub fn new<I, S>(program: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: BTreeMap::new(),
            stdin: None,
        }
    }

    /// The same command reading `stdin`.
    #[must_use]
    pub fn with_stdin(mut self, stdin: Stdin) -> Self {
        self.stdin = Some(stdin);
        self
    }

    /// Program followed by the arguments.
    pub fn argv(&self) -> Vec<&str> {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect()
    }

    /// The argv with the environment as a leading `env K=V ...` when there is
    /// any: the form a remote shell or `sudo` needs.
    fn argv_with_env(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.env.is_empty() {
            out.push("env".to_owned());
            out.extend(self.env.iter().map(|(k, v)| format!("{k}={v}")));
        }
        out.extend(self.argv().into_iter().map(str::to_owned));
        out
    }

    /// Wraps the command for `sudo -n` and/or `ssh HOST`, in that order (so
    /// `sudo` runs on the remote host).
    ///
    /// - `sudo`: `sudo -n -- [env K=V ...] incus ARGS` (sudo resets the
    ///   environment, so it is handed over with `env`).
    /// - `ssh`: `ssh -T -o BatchMode=yes -- HOST 'QUOTED COMMAND LINE'`: ssh
    ///   joins its arguments into one line for the remote shell, so the whole
    ///   remote command is one shell-quoted word list.
    ///
    /// Standard input stays with the outer command: `sudo` and `ssh` pass it on.
    pub fn wrap(self, sudo: bool, remote_host: Option<&str>) -> Self {
        let mut cmd = self;
        if sudo {
            let mut args = vec!["-n".to_owned(), "--".to_owned()];
            args.extend(cmd.argv_with_env());
            cmd = Self::new("sudo", args).with_stdin_of(cmd);
        }
        if let Some(host) = remote_host {
            let line = shell_join(cmd.argv_with_env());
            cmd = Self::new(
                "ssh",
                ["-T", "-o", "BatchMode=yes", "--", host, line.as_str()],
            )
            .with_stdin_of(cmd);
        }
        cmd
    }

    fn with_stdin_of(mut self, inner: Self) -> Self {
        self.stdin = inner.stdin;
        self
    }

    /// The command as shell text that does the same: environment first (as
    /// `K=V`), a piped producer before it (`tar ... | incus ...`), and text
    /// input as a here-document.
    pub fn display(&self) -> String {
        let mut line = String::new();
        if let Some(Stdin::Pipe(producer)) = &self.stdin {
            line.push_str(&producer.display());
            line.push_str(" | ");
        }
        for (k, v) in &self.env {
            line.push_str(&format!("{k}={} ", shell_quote(v)));
        }
        line.push_str(&shell_join(self.argv()));
        if let Some(Stdin::Text(text)) = &self.stdin {
            let mut end = "PIKACI_EOF".to_owned();
            while text.lines().any(|l| l == end) {
                end.push('_');
            }
            line.push_str(&format!(" <<'{end}'\n{text}"));
            if !text.ends_with('\n') {
                line.push('\n');
            }
            line.push_str(&end);
        }
        line
    }
}

impl fmt::Display for IncusCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn launch_like() -> IncusCommand {
        IncusCommand::new(
            "incus",
            [
                "exec",
                "--project",
                "p",
                "inst",
                "--",
                "env",
                "PIKACI_INCUS_GUEST_COMMAND=echo 'a b' \"$HOME\"\nnext grüße",
                "/run/current-system/sw/bin/pikaci-incus-run",
            ],
        )
    }

    #[test]
    fn unwrapped_stays_as_is() {
        let c = launch_like();
        assert_eq!(c.clone().wrap(false, None), c);
        assert_eq!(c.argv()[0], "incus");
    }

    #[test]
    fn sudo_wraps_with_env_handover() {
        let mut c = IncusCommand::new("incus", ["list"]);
        c.env
            .insert("INCUS_CONF".into(), "/etc/incus client".into());
        let w = c.wrap(true, None);
        assert_eq!(
            w.argv(),
            [
                "sudo",
                "-n",
                "--",
                "env",
                "INCUS_CONF=/etc/incus client",
                "incus",
                "list"
            ]
        );
        assert!(w.env.is_empty());
    }

    #[test]
    fn ssh_gets_one_quoted_word_that_a_shell_splits_back() {
        let c = launch_like();
        let w = c.clone().wrap(true, Some("ci@builder"));
        assert_eq!(&w.argv()[..5], ["ssh", "-T", "-o", "BatchMode=yes", "--"]);
        assert_eq!(w.argv()[5], "ci@builder");
        assert_eq!(w.args.len(), 6);
        // What the remote shell does with the line: split it back into words.
        let line = &w.args[5];
        let script = format!("printf '%s\\0' {line}");
        let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
        let words: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .split_terminator('\0')
            .map(str::to_owned)
            .collect();
        let mut expected = vec!["sudo".to_owned(), "-n".to_owned(), "--".to_owned()];
        expected.extend(
            c.args
                .iter()
                .cloned()
                .fold(vec!["incus".to_owned()], |mut v, a| {
                    v.push(a);
                    v
                }),
        );
        assert_eq!(words, expected);
    }

    #[test]
    fn display_quotes_what_needs_it() {
        let mut c = IncusCommand::new("incus", ["exec", "x y"]);
        c.env.insert("A".into(), "1 2".into());
        assert_eq!(c.display(), "A='1 2' incus exec 'x y'");
    }
}

//! Cobra-like argument parsing: flags anywhere before `--`, `--flag value`
//! and `--flag=value`, a few short forms, and everything after `--` kept
//! as the command of `exec`.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

/// Flags that take a value (long name, short name).
const VALUE_FLAGS: &[(&str, Option<char>)] = &[
    ("project", None),
    ("storage", Some('s')),
    ("profile", Some('p')),
    ("config", Some('c')),
    ("target", None),
    ("format", None),
    ("type", Some('t')),
    ("env", None),
    ("cwd", None),
    ("user", None),
    ("group", None),
    ("device", Some('d')),
    ("network", Some('n')),
    ("description", None),
];
/// Flags without a value.
const BOOL_FLAGS: &[(&str, Option<char>)] = &[
    ("vm", None),
    ("force", Some('f')),
    ("quiet", Some('q')),
    ("force-local", None),
    ("ephemeral", Some('e')),
    ("empty", None),
    ("no-profiles", None),
    ("force-noninteractive", Some('T')),
];

/// A parsed command line.
#[derive(Debug, Default)]
pub(crate) struct Args {
    pub(crate) positional: Vec<String>,
    pub(crate) values: BTreeMap<String, Vec<String>>,
    pub(crate) bools: Vec<String>,
    pub(crate) command: Vec<String>,
}

impl Args {
    pub(crate) fn parse(argv: &[String]) -> Result<Self> {
        let mut a = Self::default();
        let mut it = argv.iter();
        while let Some(arg) = it.next() {
            if arg == "--" {
                a.command = it.by_ref().cloned().collect();
                break;
            }
            let (name, inline) = if let Some(long) = arg.strip_prefix("--") {
                match long.split_once('=') {
                    Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                    None => (long.to_owned(), None),
                }
            } else if arg.len() == 2 && arg.starts_with('-') {
                let c = arg.chars().nth(1).unwrap_or('-');
                let long = VALUE_FLAGS
                    .iter()
                    .chain(BOOL_FLAGS)
                    .find(|(_, s)| *s == Some(c))
                    .map(|(l, _)| (*l).to_owned());
                match long {
                    Some(l) => (l, None),
                    None => bail!("unknown shorthand flag: '{c}' in {arg}"),
                }
            } else {
                a.positional.push(arg.clone());
                continue;
            };
            if VALUE_FLAGS.iter().any(|(l, _)| *l == name) {
                let value = match inline {
                    Some(v) => v,
                    None => match it.next() {
                        Some(v) => v.clone(),
                        None => bail!("flag needs an argument: --{name}"),
                    },
                };
                a.values.entry(name).or_default().push(value);
            } else if BOOL_FLAGS.iter().any(|(l, _)| *l == name) {
                a.bools.push(name);
            } else {
                bail!("unknown flag: --{name}");
            }
        }
        Ok(a)
    }

    pub(crate) fn value(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    pub(crate) fn all(&self, name: &str) -> &[String] {
        self.values.get(name).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn flag(&self, name: &str) -> bool {
        self.bools.iter().any(|b| b == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Result<Args> {
        Args::parse(&words.iter().map(|w| (*w).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_anywhere_and_both_value_forms() {
        let a = parse(&[
            "init",
            "--project",
            "p",
            "img",
            "vm1",
            "--vm",
            "-c",
            "limits.cpu=2",
            "--profile=default",
            "-p",
            "extra",
        ])
        .unwrap();
        assert_eq!(a.positional, ["init", "img", "vm1"]);
        assert_eq!(a.value("project"), Some("p"));
        assert_eq!(a.all("profile"), ["default", "extra"]);
        assert_eq!(a.all("config"), ["limits.cpu=2"]);
        assert!(a.flag("vm") && !a.flag("force"));
    }

    #[test]
    fn everything_after_double_dash_is_the_command() {
        let a = parse(&[
            "exec",
            "vm1",
            "--project",
            "p",
            "--",
            "env",
            "--vm",
            "A=b c",
        ])
        .unwrap();
        assert_eq!(a.positional, ["exec", "vm1"]);
        assert_eq!(a.command, ["env", "--vm", "A=b c"]);
        assert!(!a.flag("vm"));
    }

    #[test]
    fn unknown_and_incomplete_flags_are_errors() {
        assert!(parse(&["list", "--colour"]).is_err());
        assert!(parse(&["list", "-z"]).is_err());
        assert!(parse(&["list", "--project"]).is_err());
    }
}

//! An argv that runs pikaci itself, through whatever starts it
//! (`pikaci run T`, `/opt/bin/pikaci run T`, `nix run .#pikaci -- run T`):
//! upstream pika's lane form. A forge runs such an argv as a pikaci lane,
//! with JSONL events on stdout and its state root set, so it can record the
//! run the lane made; [`pikaci_in_argv`] finds the target and gives the argv
//! to run.

use crate::ids::{IdError, TargetId};

/// The program name that is pikaci, and the flake output that builds it.
const PIKACI: &str = "pikaci";

/// An argv found to run `pikaci run <target>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedPikaci {
    /// The target it runs.
    pub target: TargetId,
    /// The argv to run: the one given, `--output jsonl` appended unless it
    /// already asks for it.
    pub argv: Vec<String>,
}

/// Why an argv that runs `pikaci run` cannot be run as a pikaci lane.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WrappedPikaciError {
    /// It asks for another output than JSONL, which the lane reads.
    #[error(
        "it runs `pikaci run` with `--output {0}`; a pikaci lane reads `--output jsonl` (leave `--output` out, it is added)"
    )]
    OtherOutput(String),
    /// It names a state root, where the forge sets the repository's.
    #[error(
        "it runs `pikaci run` with `--state-root`; the forge sets the repository's state root itself (leave it out)"
    )]
    StateRoot,
    /// The target is not a valid id.
    #[error("it runs `pikaci run` with a bad target")]
    Target(#[source] IdError),
}

/// The word after the last `/` of a program path.
fn base_name(program: &str) -> &str {
    program.rsplit('/').next().unwrap_or(program)
}

/// pikaci's own arguments in `argv`, when `argv` starts pikaci: directly,
/// or as `nix ... run ...#pikaci ... -- ARGS`.
fn pikaci_args(argv: &[String]) -> Option<&[String]> {
    let (program, rest) = argv.split_first()?;
    match base_name(program) {
        PIKACI => Some(rest),
        "nix" => {
            let dashes = rest.iter().position(|w| w == "--")?;
            let before = &rest[..dashes];
            let run = before.iter().position(|w| w == "run")?;
            before[run + 1..]
                .iter()
                .any(|w| {
                    !w.starts_with('-') && w.rsplit_once('#').is_some_and(|(_, out)| out == PIKACI)
                })
                .then(|| &rest[dashes + 1..])
        }
        _ => None,
    }
}

/// Whether `argv` runs `pikaci run <target>` (see the module docs): `None`
/// for any other argv (a `pikaci` that does not `run` a target included),
/// else the target and the argv to run, or why it cannot be a pikaci lane.
///
/// ```
/// use pikaci_core::contract::pikaci_in_argv;
///
/// let argv: Vec<String> = ["nix", "run", ".#pikaci", "--", "run", "pre-merge"]
///     .map(String::from)
///     .to_vec();
/// let found = pikaci_in_argv(&argv).unwrap().unwrap();
/// assert_eq!(found.target.as_str(), "pre-merge");
/// assert_eq!(found.argv[4..], ["run", "pre-merge", "--output", "jsonl"]);
/// assert!(pikaci_in_argv(&["make".to_owned(), "test".to_owned()]).is_none());
/// ```
pub fn pikaci_in_argv(argv: &[String]) -> Option<Result<WrappedPikaci, WrappedPikaciError>> {
    let args = pikaci_args(argv)?;
    let (first, rest) = args.split_first()?;
    if first != "run" {
        return None;
    }
    let target = positional(rest)?;
    Some(checked(argv, args, target))
}

/// The flags of `pikaci run` that take a value as the next word.
const VALUE_FLAGS: [&str; 6] = [
    "--job",
    "--config",
    "--source",
    "--output",
    "--jobs",
    "--state-root",
];

/// The first word of `pikaci run`'s arguments that is no flag nor a flag's
/// value: the target.
fn positional(args: &[String]) -> Option<&str> {
    let mut words = args.iter();
    while let Some(w) = words.next() {
        if VALUE_FLAGS.contains(&w.as_str()) {
            words.next();
        } else if !w.starts_with('-') {
            return Some(w);
        }
    }
    None
}

fn checked(
    argv: &[String],
    args: &[String],
    target: &str,
) -> Result<WrappedPikaci, WrappedPikaciError> {
    let target: TargetId = target.parse().map_err(WrappedPikaciError::Target)?;
    let mut jsonl = false;
    for (i, word) in args.iter().enumerate() {
        if word == "--state-root" || word.starts_with("--state-root=") {
            return Err(WrappedPikaciError::StateRoot);
        }
        let output = match word.strip_prefix("--output") {
            Some("") => args.get(i + 1).map(String::as_str).unwrap_or(""),
            Some(v) if v.starts_with('=') => &v[1..],
            _ => continue,
        };
        if output != "jsonl" {
            return Err(WrappedPikaciError::OtherOutput(output.to_owned()));
        }
        jsonl = true;
    }
    let mut argv = argv.to_vec();
    if !jsonl {
        argv.extend(["--output".to_owned(), "jsonl".to_owned()]);
    }
    Ok(WrappedPikaci { target, argv })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    fn found(words: &[&str]) -> Option<Result<(String, Vec<String>), WrappedPikaciError>> {
        pikaci_in_argv(&argv(words)).map(|r| r.map(|w| (w.target.as_str().to_owned(), w.argv)))
    }

    #[test]
    fn the_forms_that_run_pikaci() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["nix", "run", ".#pikaci", "--", "run", "pre-merge"],
                "pre-merge",
            ),
            (
                &[
                    "nix",
                    "--extra-experimental-features",
                    "nix-command flakes",
                    "run",
                    "path:.#pikaci",
                    "--",
                    "run",
                    "t",
                ],
                "t",
            ),
            (
                &[
                    "/run/current-system/sw/bin/nix",
                    "run",
                    "github:sledtools/pika#pikaci",
                    "--",
                    "run",
                    "t",
                ],
                "t",
            ),
            (&["pikaci", "run", "t"], "t"),
            (&["/usr/local/bin/pikaci", "run", "--job", "x", "t"], "t"),
            (
                &["pikaci", "run", "--jobs=2", "--config", "ci/p.toml", "t"],
                "t",
            ),
        ];
        for (words, target) in cases {
            let (t, run) = found(words).expect("found").expect("valid");
            assert_eq!(&t, target, "{words:?}");
            assert_eq!(run[..words.len()], argv(words)[..], "the argv is kept");
            assert_eq!(run[words.len()..], ["--output", "jsonl"], "{words:?}");
        }
        // Already asking for JSONL: nothing appended.
        let (_, run) = found(&["pikaci", "run", "t", "--output", "jsonl"])
            .unwrap()
            .unwrap();
        assert_eq!(run, argv(&["pikaci", "run", "t", "--output", "jsonl"]));
        let (_, run) = found(&["pikaci", "run", "t", "--output=jsonl"])
            .unwrap()
            .unwrap();
        assert_eq!(run.len(), 4);
    }

    #[test]
    fn other_commands_are_not_pikaci_lanes() {
        for words in [
            &["make", "test"][..],
            &["nix", "run", ".#pikaci-tools", "--", "run", "t"],
            &["nix", "build", ".#pikaci"],
            &["nix", "run", ".#pikaci"],
            &["nix", "run", ".#other", "--", "pikaci", "run", "t"],
            &["pikaci", "gc"],
            &["pikaci", "run"],
            &["pikaci", "run", "--job", "x"],
            &["./pikaci.sh", "run", "t"],
        ] {
            assert_eq!(found(words), None, "{words:?}");
        }
    }

    #[test]
    fn what_a_pikaci_lane_cannot_take() {
        assert_eq!(
            found(&[
                "nix", "run", ".#pikaci", "--", "run", "t", "--output", "human"
            ]),
            Some(Err(WrappedPikaciError::OtherOutput("human".into())))
        );
        assert_eq!(
            found(&["pikaci", "run", "t", "--output"]),
            Some(Err(WrappedPikaciError::OtherOutput(String::new())))
        );
        assert_eq!(
            found(&["pikaci", "run", "t", "--state-root", "/tmp/x"]),
            Some(Err(WrappedPikaciError::StateRoot))
        );
        assert!(matches!(
            found(&["pikaci", "run", "../etc"]),
            Some(Err(WrappedPikaciError::Target(_)))
        ));
        let e = found(&["pikaci", "run", "t", "--output=json"])
            .unwrap()
            .unwrap_err();
        assert!(e.to_string().contains("`--output json`"), "{e}");
    }
}

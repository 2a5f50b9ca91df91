//! The lanes a forge's CI makes of a pipeline's targets ([`CiLanes`]), and
//! the rule that picks a head's branch lanes from its changed files
//! ([`CiLanes::select`]).

use std::fmt;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Serialize;

use super::ci::{CiTrigger, NightlyTime};
use super::model::{Pipeline, TargetSpec};
use crate::ids::TargetId;

/// Compiles `paths` into one matcher, by the glob rules CI uses: globset's
/// defaults, so `*` crosses `/` (`crates/*.rs` matches `crates/a/b.rs`).
/// `None` for no paths (a lane that always runs).
pub fn path_matcher(paths: &[String]) -> Result<Option<GlobSet>, (usize, globset::Error)> {
    if paths.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for (i, p) in paths.iter().enumerate() {
        builder.add(Glob::new(p).map_err(|e| (i, e))?);
    }
    builder.build().map(Some).map_err(|e| (0, e))
}

/// One lane CI makes of a target: the target run by `pikaci run <target>`.
#[derive(Debug, Clone, Serialize)]
pub struct CiLane {
    /// The lane's id: its target's.
    pub id: TargetId,
    /// What pages call it: the target's `title`, else its id.
    pub title: String,
    /// The target's description.
    pub description: String,
    /// The paths that select it, its definition file's included (empty:
    /// always).
    pub paths: Vec<String>,
    /// Lanes of one group run one at a time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency_group: Option<String>,
    /// The command CI runs for it.
    pub command: Vec<String>,
    #[serde(skip)]
    matcher: Option<GlobSet>,
}

impl CiLane {
    fn of(target: &TargetSpec, definition: &str, with_paths: bool) -> Self {
        let paths = if with_paths && !target.paths.is_empty() {
            std::iter::once(definition.to_owned())
                .chain(target.paths.iter().cloned())
                .collect()
        } else {
            Vec::new()
        };
        let matcher = path_matcher(&paths).expect("paths were checked when the file was parsed");
        Self {
            id: target.id.clone(),
            title: target
                .title
                .clone()
                .unwrap_or_else(|| target.id.to_string()),
            description: target.description.clone(),
            paths,
            concurrency_group: target.ci.concurrency_group.clone(),
            command: std::iter::once("pikaci".to_owned())
                .chain(crate::contract::run_argv(&target.id))
                .collect(),
            matcher,
        }
    }

    /// Whether a change of `changed` selects it (a lane without paths
    /// always matches).
    pub fn matches(&self, changed: &[String]) -> bool {
        match &self.matcher {
            None => true,
            Some(set) => changed.iter().any(|p| set.is_match(p)),
        }
    }
}

/// Why [`CiLanes::select`] chose what it chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    /// The changed files are unknown (no base to compare with): every lane.
    UnknownDiff,
    /// Nothing changed: every lane.
    EmptyDiff,
    /// Lanes without `paths`, and those whose paths (their definition file
    /// included) match a changed file.
    Paths,
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnknownDiff => "the changed files are unknown: every lane runs",
            Self::EmptyDiff => "no file changed: every lane runs",
            Self::Paths => "lanes without paths, and those whose paths match a changed file",
        })
    }
}

/// The lanes CI makes of a pipeline's targets.
#[derive(Debug, Clone, Serialize)]
pub struct CiLanes {
    /// The pipeline file, relative to the repository's root: a change to it
    /// selects every lane that has paths.
    pub definition: String,
    /// When the nightly lanes run.
    pub nightly_schedule_utc: NightlyTime,
    /// One per `trigger = "branch"` target, in file order.
    pub branch: Vec<CiLane>,
    /// One per `trigger = "nightly"` target, in file order (they run on the
    /// default branch's head whatever changed, so they keep no paths).
    pub nightly: Vec<CiLane>,
}

impl CiLanes {
    /// The lanes of `pipeline`, read from `definition` (its path in the
    /// repository, such as `pikaci.toml`).
    pub fn of(pipeline: &Pipeline, definition: &str) -> Self {
        let lanes = |trigger, with_paths| {
            pipeline
                .targets
                .iter()
                .filter(|t| t.ci.trigger == trigger)
                .map(|t| CiLane::of(t, definition, with_paths))
                .collect()
        };
        Self {
            definition: definition.to_owned(),
            nightly_schedule_utc: pipeline.ci.nightly_schedule_utc,
            branch: lanes(CiTrigger::Branch, true),
            nightly: lanes(CiTrigger::Nightly, false),
        }
    }

    /// Whether the pipeline asks CI for anything.
    pub fn is_empty(&self) -> bool {
        self.branch.is_empty() && self.nightly.is_empty()
    }

    /// The branch lanes for a head whose changed files are `changed`
    /// (`None`: unknown), and why: every lane for an unknown or empty diff,
    /// else those without paths and those whose paths match.
    pub fn select(&self, changed: Option<&[String]>) -> (Vec<&CiLane>, Selection) {
        match changed {
            None => (self.branch.iter().collect(), Selection::UnknownDiff),
            Some([]) => (self.branch.iter().collect(), Selection::EmptyDiff),
            Some(c) => (
                self.branch.iter().filter(|l| l.matches(c)).collect(),
                Selection::Paths,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use camino::Utf8Path;

    use super::*;
    use crate::pipeline::PipelineError;
    use crate::pipeline::ci::{DEFAULT_NIGHTLY_TIME, TargetCi};

    fn parse(text: &str) -> Result<Pipeline, PipelineError> {
        Pipeline::parse(text, Utf8Path::new("pikaci.toml"))
    }

    const PIKA_SHAPED: &str = r#"
[ci]
nightly_schedule_utc = "07:30"

[[job]]
id = "clippy"
command = "true"

[[job]]
id = "test"
command = "true"

[[target]]
id = "pre-merge-pika-rust"
title = "pika-rust"
description = "the pika crates"
jobs = ["clippy", "test"]
paths = ["crates/pika/**", "Cargo.lock"]
ci = { trigger = "branch", concurrency_group = "staged-linux:pre-merge-pika-rust" }

[[target]]
id = "pre-merge-docs"
jobs = ["test"]
paths = ["docs/*.md"]
ci = { trigger = "branch" }

[[target]]
id = "pre-merge-always"
jobs = ["test"]
ci = { trigger = "branch" }

[[target]]
id = "nightly-everything"
jobs = ["clippy", "test"]
paths = ["ignored/for/nightly"]
ci = { trigger = "nightly", concurrency_group = "nightly" }

[[target]]
id = "by-hand"
jobs = ["test"]
"#;

    fn ids(lanes: &[&CiLane]) -> Vec<String> {
        lanes.iter().map(|l| l.id.to_string()).collect()
    }

    #[test]
    fn targets_say_how_ci_runs_them() {
        let p = parse(PIKA_SHAPED).expect("parses");
        let t = &p.targets[0];
        assert_eq!(t.title.as_deref(), Some("pika-rust"));
        assert_eq!(t.paths, ["crates/pika/**", "Cargo.lock"]);
        assert_eq!(
            t.ci,
            TargetCi {
                trigger: CiTrigger::Branch,
                concurrency_group: Some("staged-linux:pre-merge-pika-rust".into()),
            }
        );
        assert_eq!(
            p.targets[4].ci,
            TargetCi::default(),
            "no ci table: never by CI"
        );
        assert_eq!(
            p.ci.nightly_schedule_utc,
            NightlyTime {
                hour: 7,
                minute: 30
            }
        );
        let plain = parse("[[job]]\nid = \"a\"\ncommand = \"x\"\n").expect("parses");
        assert_eq!(plain.ci.nightly_schedule_utc, DEFAULT_NIGHTLY_TIME);
        assert_eq!(DEFAULT_NIGHTLY_TIME.to_string(), "08:00");
    }

    #[test]
    fn the_lanes_follow_the_triggers_and_carry_their_definition_file() {
        let p = parse(PIKA_SHAPED).expect("parses");
        let lanes = CiLanes::of(&p, "pikaci.toml");
        assert_eq!(
            lanes
                .branch
                .iter()
                .map(|l| l.id.as_str())
                .collect::<Vec<_>>(),
            ["pre-merge-pika-rust", "pre-merge-docs", "pre-merge-always"]
        );
        assert_eq!(lanes.nightly.len(), 1);
        assert!(
            lanes.nightly[0].paths.is_empty(),
            "nightly lanes run whatever changed"
        );
        let rust = &lanes.branch[0];
        assert_eq!(rust.title, "pika-rust");
        assert_eq!(rust.paths, ["pikaci.toml", "crates/pika/**", "Cargo.lock"]);
        assert_eq!(
            rust.command,
            ["pikaci", "run", "pre-merge-pika-rust", "--output", "jsonl"]
        );
        assert_eq!(lanes.branch[1].title, "pre-merge-docs", "no title: the id");
        assert!(lanes.branch[2].paths.is_empty());
        assert_eq!(lanes.nightly_schedule_utc.to_string(), "07:30");
    }

    #[test]
    fn selection_by_changed_files() {
        let p = parse(PIKA_SHAPED).expect("parses");
        let lanes = CiLanes::of(&p, "pikaci.toml");
        let pick = |changed: &[&str]| {
            let changed: Vec<String> = changed.iter().map(|s| s.to_string()).collect();
            let (l, why) = lanes.select(Some(&changed));
            (ids(&l), why)
        };
        let all = ["pre-merge-pika-rust", "pre-merge-docs", "pre-merge-always"];
        assert_eq!(lanes.select(None).1, Selection::UnknownDiff);
        assert_eq!(ids(&lanes.select(None).0), all);
        assert_eq!(
            pick(&[]),
            (all.map(String::from).to_vec(), Selection::EmptyDiff)
        );
        // The definition file selects every lane.
        assert_eq!(pick(&["pikaci.toml"]).0, all);
        assert_eq!(
            pick(&["Cargo.lock"]).0,
            ["pre-merge-pika-rust", "pre-merge-always"]
        );
        assert_eq!(pick(&["README.md"]).0, ["pre-merge-always"]);
        // globset's defaults: `*` crosses `/`.
        assert_eq!(
            pick(&["docs/deep/er/page.md"]).0,
            ["pre-merge-docs", "pre-merge-always"]
        );
        assert_eq!(
            pick(&["crates/pika/src/lib.rs"]).0,
            ["pre-merge-pika-rust", "pre-merge-always"]
        );
    }

    #[test]
    fn bad_ci_keys_point_at_their_line() {
        let head = "[[job]]\nid = \"a\"\ncommand = \"x\"\n[[target]]\nid = \"t\"\njobs = [\"a\"]\n";
        let cases = [
            (
                format!("{head}ci = {{ trigger = \"weekly\" }}\n"),
                7,
                "trigger",
            ),
            (
                format!("{head}ci = {{ trigger = \"branch\", concurrency_group = \" \" }}\n"),
                7,
                "concurrency_group",
            ),
            (format!("{head}paths = [\"ok/**\", \"a[\"]\n"), 7, "paths"),
            (format!("{head}title = \"\"\n"), 7, "title"),
            (
                format!("[ci]\nnightly_schedule_utc = \"25:00\"\n{head}"),
                2,
                "nightly_schedule_utc",
            ),
        ];
        for (text, want_line, want_key) in cases {
            match parse(&text).unwrap_err() {
                PipelineError::Invalid {
                    line, key, message, ..
                } => {
                    assert_eq!(
                        (line, key.as_str()),
                        (want_line, want_key),
                        "{text}: {message}"
                    );
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        let err = parse(&format!(
            "{head}ci = {{ trigger = \"branch\", group = \"g\" }}\n"
        ))
        .unwrap_err();
        assert!(err.to_string().contains("group"), "{err}");
        let err = parse("[ci]\nnightly = \"08:00\"\n").unwrap_err();
        assert!(err.to_string().starts_with("pikaci.toml:2:"), "{err}");
    }

    #[test]
    fn nightly_times() {
        for (text, want) in [("08:00", "08:00"), ("8:05", "08:05"), ("23:59", "23:59")] {
            assert_eq!(NightlyTime::parse(text).expect(text).to_string(), want);
        }
        for bad in ["24:00", "12:60", "8", "08:0", "a:00", "-1:00", "08:000"] {
            assert_eq!(NightlyTime::parse(bad), None, "{bad}");
        }
    }
}

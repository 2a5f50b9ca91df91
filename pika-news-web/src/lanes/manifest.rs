//! `ci/forge-lanes.toml`: which lanes run for a branch head.
//!
//! ```toml
//! version = 1
//!
//! [[branch.lanes]]
//! id = "pre-merge"
//! title = "pre-merge checks"
//! pikaci_target = "pre-merge"      # or: command = ["make", "test"]
//! paths = ["src/**"]               # optional: run only when a changed file matches
//! concurrency_group = "heavy"      # optional
//! timeout_secs = 3600              # optional
//! ```

use std::collections::BTreeSet;

use globset::{Glob, GlobSet, GlobSetBuilder};
use pikaci_core::{IdError, TargetId, validate_id};
use serde::Deserialize;
use toml::Spanned;

/// Where the manifest lives in a branch.
pub const MANIFEST_PATH: &str = "ci/forge-lanes.toml";

/// A lane definition's id (same rules as pikaci ids).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LaneId(String);

impl LaneId {
    /// Validates a lane id.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        validate_id("lane", s)?;
        Ok(Self(s.to_owned()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a lane runs (stored with a queued lane as JSON).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LaneCommand {
    /// An argv, run as is in the worktree.
    Argv(Vec<String>),
    /// `pikaci run <target> --output jsonl`.
    PikaciTarget(TargetId),
}

/// One `[[branch.lanes]]`.
#[derive(Debug, Clone)]
pub struct LaneDef {
    /// Its id.
    pub id: LaneId,
    /// Its title.
    pub title: String,
    /// What it runs.
    pub command: LaneCommand,
    /// Path globs; empty means always.
    pub paths: Vec<String>,
    matcher: Option<GlobSet>,
    /// Lanes of one group run one at a time.
    pub concurrency_group: Option<String>,
    /// Its wall-clock limit, when not the service default.
    pub timeout_secs: Option<u64>,
}

impl LaneDef {
    /// Whether the lane runs for these changed paths.
    pub fn matches(&self, changed: &[String]) -> bool {
        match &self.matcher {
            None => true,
            Some(set) => changed.iter().any(|p| set.is_match(p)),
        }
    }
}

/// A parsed manifest.
#[derive(Debug, Clone)]
pub struct LaneManifest {
    /// The lanes, in file order.
    pub lanes: Vec<LaneDef>,
}

impl LaneManifest {
    /// The lanes to run for a head whose changed files are `changed`
    /// (`None`: unknown, e.g. a new branch: every lane).
    pub fn select(&self, changed: Option<&[String]>) -> Vec<&LaneDef> {
        self.lanes
            .iter()
            .filter(|l| changed.is_none_or(|c| l.matches(c)))
            .collect()
    }
}

/// What is wrong with a manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{MANIFEST_PATH}:{line}: {message}")]
pub struct ManifestError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong, naming the key.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    version: Spanned<i64>,
    #[serde(default)]
    branch: RawBranch,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBranch {
    #[serde(default)]
    lanes: Vec<RawLane>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLane {
    id: Spanned<String>,
    #[serde(default)]
    title: String,
    command: Option<Spanned<Vec<String>>>,
    pikaci_target: Option<Spanned<String>>,
    #[serde(default)]
    paths: Vec<Spanned<String>>,
    concurrency_group: Option<String>,
    timeout_secs: Option<Spanned<u64>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses and checks a manifest.
pub fn parse_manifest(text: &str) -> Result<LaneManifest, ManifestError> {
    let err = |offset: usize, message: String| ManifestError {
        line: line_of(text, offset),
        message,
    };
    let raw: Raw = toml::from_str(text).map_err(|e| {
        err(
            e.span().map_or(0, |s| s.start),
            e.message().trim().to_owned(),
        )
    })?;
    if *raw.version.get_ref() != 1 {
        return Err(err(
            raw.version.span().start,
            format!(
                "key `version`: version {} is not supported (use 1)",
                raw.version.get_ref()
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut lanes = Vec::new();
    for rl in raw.branch.lanes {
        let id = LaneId::parse(rl.id.get_ref())
            .map_err(|e| err(rl.id.span().start, format!("key `id`: {e}")))?;
        if !seen.insert(id.clone()) {
            return Err(err(
                rl.id.span().start,
                format!("key `id`: lane `{}` is defined twice", id.as_str()),
            ));
        }
        let command = match (rl.command, rl.pikaci_target) {
            (Some(c), None) => {
                if c.get_ref().is_empty() || c.get_ref()[0].is_empty() {
                    return Err(err(
                        c.span().start,
                        format!("key `command`: lane `{}` has an empty command", id.as_str()),
                    ));
                }
                LaneCommand::Argv(c.into_inner())
            }
            (None, Some(t)) => {
                let target = t.get_ref().parse().map_err(|e: IdError| {
                    err(t.span().start, format!("key `pikaci_target`: {e}"))
                })?;
                LaneCommand::PikaciTarget(target)
            }
            (Some(_), Some(t)) => {
                return Err(err(
                    t.span().start,
                    format!(
                        "lane `{}`: give `command` or `pikaci_target`, not both",
                        id.as_str()
                    ),
                ));
            }
            (None, None) => {
                return Err(err(
                    rl.id.span().start,
                    format!("lane `{}`: needs `command` or `pikaci_target`", id.as_str()),
                ));
            }
        };
        let mut builder = GlobSetBuilder::new();
        let mut paths = Vec::new();
        for p in &rl.paths {
            let glob = Glob::new(p.get_ref())
                .map_err(|e| err(p.span().start, format!("key `paths`: bad glob: {e}")))?;
            builder.add(glob);
            paths.push(p.get_ref().clone());
        }
        let matcher = if paths.is_empty() {
            None
        } else {
            Some(
                builder
                    .build()
                    .map_err(|e| err(rl.id.span().start, format!("key `paths`: {e}")))?,
            )
        };
        if let Some(t) = &rl.timeout_secs
            && *t.get_ref() == 0
        {
            return Err(err(
                t.span().start,
                "key `timeout_secs`: must be at least 1".into(),
            ));
        }
        lanes.push(LaneDef {
            title: if rl.title.is_empty() {
                id.as_str().to_owned()
            } else {
                rl.title
            },
            id,
            command,
            paths,
            matcher,
            concurrency_group: rl.concurrency_group,
            timeout_secs: rl.timeout_secs.map(Spanned::into_inner),
        });
    }
    Ok(LaneManifest { lanes })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
version = 1

[[branch.lanes]]
id = "pre-merge"
title = "pre-merge checks"
pikaci_target = "pre-merge"
paths = ["src/**", "Cargo.*"]
concurrency_group = "heavy"
timeout_secs = 60

[[branch.lanes]]
id = "lint"
command = ["sh", "-c", "true"]
"#;

    #[test]
    fn parses_and_selects_by_path() {
        let m = parse_manifest(GOOD).unwrap();
        assert_eq!(m.lanes.len(), 2);
        assert_eq!(
            m.lanes[0].command,
            LaneCommand::PikaciTarget("pre-merge".parse().unwrap())
        );
        assert_eq!(m.lanes[1].title, "lint");
        let ids = |v: Vec<&LaneDef>| {
            v.iter()
                .map(|l| l.id.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(m.select(Some(&["docs/readme.md".to_owned()]))),
            ["lint"]
        );
        assert_eq!(
            ids(m.select(Some(&["src/lib.rs".to_owned()]))),
            ["pre-merge", "lint"]
        );
        assert_eq!(ids(m.select(None)), ["pre-merge", "lint"]);
    }

    #[test]
    fn errors_name_line_and_key() {
        let cases = [
            ("version = 2\n", 1, "version"),
            (
                "version = 1\n[[branch.lanes]]\nid = \"a\"\n",
                3,
                "needs `command`",
            ),
            (
                "version = 1\n[[branch.lanes]]\nid = \"a\"\ncommand = []\n",
                4,
                "empty command",
            ),
            (
                "version = 1\n[[branch.lanes]]\nid = \"a\"\ncommand = [\"x\"]\npikaci_target = \"t\"\n",
                5,
                "not both",
            ),
            (
                "version = 1\n[[branch.lanes]]\nid = \"../a\"\ncommand = [\"x\"]\n",
                3,
                "key `id`",
            ),
            (
                "version = 1\n[[branch.lanes]]\nid = \"a\"\ncommand = [\"x\"]\npaths = [\"[\"]\n",
                5,
                "bad glob",
            ),
            (
                "version = 1\n[[branch.lanes]]\nid = \"a\"\ncommand = [\"x\"]\ncolour = 1\n",
                5,
                "colour",
            ),
            (
                "version = 1\n[[branch.lanes]]\nid = \"a\"\ncommand = [\"x\"]\n[[branch.lanes]]\nid = \"a\"\ncommand = [\"y\"]\n",
                6,
                "twice",
            ),
        ];
        for (text, line, needle) in cases {
            let e = parse_manifest(text).unwrap_err();
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.to_string().contains(needle), "{text}: {e}");
            assert!(e.to_string().starts_with("ci/forge-lanes.toml:"));
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "(version = [0-9]|\\[\\[branch.lanes\\]\\]|id = \"[a-z.]{0,3}\"|command = \\[\"[a-z]{0,2}\"\\]|pikaci_target = \"[a-z]\"|paths = \\[\"[*a-z\\[]{0,3}\"\\]|timeout_secs = [0-9]|\n){0,20}") {
            let _ = parse_manifest(&text);
        }
    }
}

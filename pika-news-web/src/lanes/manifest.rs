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
use pikaci_core::{IdError, TargetId, TomlLocation, validate_id};
use serde::Deserialize;
use toml::Spanned;

/// Where the manifest lives in a branch.
pub const MANIFEST_PATH: &str = "ci/forge-lanes.toml";

/// A lane definition's id (same rules as pikaci ids: `[A-Za-z0-9][A-Za-z0-9._-]*`, no `..`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LaneId(String);

impl LaneId {
    /// Validates a lane id.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        Self::try_from(s.to_owned())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for LaneId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        validate_id("lane", &s)?;
        Ok(Self(s))
    }
}

impl std::str::FromStr for LaneId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::parse(s)
    }
}

impl std::fmt::Display for LaneId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(&self.0)
    }
}

impl From<LaneId> for String {
    fn from(id: LaneId) -> String {
        id.0
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
    /// (`None`: unknown, e.g. a new branch: every lane, as [`Self::select_all`]).
    pub fn select(&self, changed: Option<&[String]>) -> Vec<&LaneDef> {
        self.lanes
            .iter()
            .filter(|l| changed.is_none_or(|c| l.matches(c)))
            .collect()
    }

    /// Every lane, in file order (the changed files are unknown).
    pub fn select_all(&self) -> Vec<&LaneDef> {
        self.lanes.iter().collect()
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
    concurrency_group: Option<Spanned<String>>,
    timeout_secs: Option<Spanned<u64>>,
}

/// Parses and checks a manifest.
pub fn parse_manifest(text: &str) -> Result<LaneManifest, ManifestError> {
    let err = |offset: usize, message: String| ManifestError {
        line: TomlLocation::at(text, offset).line,
        message,
    };
    let raw: Raw = toml::from_str(text).map_err(|e| {
        let at = TomlLocation::of_error(text, &e);
        let message = e.message().trim();
        // toml's own messages for a wrong value do not name the key.
        let message = match at.key {
            Some(key) if !message.contains(&format!("`{key}`")) => {
                format!("key `{key}`: {message}")
            }
            _ => message.to_owned(),
        };
        ManifestError {
            line: at.line,
            message,
        }
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
        if let Some(g) = &rl.concurrency_group
            && g.get_ref().trim().is_empty()
        {
            return Err(err(
                g.span().start,
                "key `concurrency_group`: must not be empty".into(),
            ));
        }
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
            concurrency_group: rl.concurrency_group.map(Spanned::into_inner),
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
        assert_eq!(ids(m.select_all()), ["pre-merge", "lint"]);
        assert_eq!(ids(m.select(Some(&[]))), ["lint"]);
        let lane = &m.lanes[0];
        assert_eq!(lane.paths, ["src/**", "Cargo.*"]);
        assert_eq!(lane.concurrency_group.as_deref(), Some("heavy"));
        assert_eq!(lane.timeout_secs, Some(60));
        assert!(lane.matches(&["Cargo.toml".to_owned()]));
        assert!(!lane.matches(&["docs/Cargo.toml".to_owned(), "README.md".to_owned()]));
    }

    #[test]
    fn an_empty_manifest_has_no_lanes() {
        let m = parse_manifest("version = 1\n").unwrap();
        assert!(m.lanes.is_empty());
        assert!(m.select_all().is_empty());
    }

    #[test]
    fn lane_ids_follow_the_pikaci_rules() {
        for bad in pikaci_core::hostile::HOSTILE_IDS {
            assert!(LaneId::parse(bad).is_err(), "{bad:?}");
            let text = format!(
                "version = 1\n[[branch.lanes]]\nid = {}\ncommand = [\"x\"]\n",
                toml_str(bad)
            );
            let e = parse_manifest(&text).unwrap_err();
            assert!(e.message.contains("key `id`"), "{bad:?}: {e}");
        }
        let id: LaneId = "pre-merge.2".parse().unwrap();
        assert_eq!(id.to_string(), "pre-merge.2");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"pre-merge.2\"");
        assert!(serde_json::from_str::<LaneId>("\"../x\"").is_err());
    }

    fn toml_str(s: &str) -> String {
        toml::Value::String(s.to_owned()).to_string()
    }

    #[test]
    fn the_stored_command_round_trips_through_json() {
        for c in [
            LaneCommand::Argv(vec!["make".into(), "test".into()]),
            LaneCommand::PikaciTarget("pre-merge".parse().unwrap()),
        ] {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(serde_json::from_str::<LaneCommand>(&json).unwrap(), c);
        }
        assert!(serde_json::from_str::<LaneCommand>(r#"{"pikaci_target":"../x"}"#).is_err());
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
            ("", 1, "version"),
            ("version = 1\nbranches = 2\n", 2, "branches"),
            ("version = 1\n[[branch.lane]]\nid = \"a\"\n", 2, "lane"),
            (
                "version = 1\n[[branch.lanes]]\nid = \"a\"\ncommand = [\"x\"]\ntimeout_secs = 0\n",
                5,
                "key `timeout_secs`",
            ),
            (
                "version = 1\n[[branch.lanes]]\nid = \"a\"\ncommand = [\"x\"]\ntimeout_secs = -5\n",
                5,
                "key `timeout_secs`: invalid value",
            ),
            (
                "version = 1\n[[branch.lanes]]\nid = \"a\"\ncommand = [\"x\"]\nconcurrency_group = \" \"\n",
                5,
                "key `concurrency_group`",
            ),
            (
                "version = 1\n[[branch.lanes]]\nid = \"a\"\npikaci_target = \"a/b\"\n",
                4,
                "key `pikaci_target`",
            ),
            (
                "version = 1\n[[branch.lanes]]\nid = \"a\"\ncommand = \"make test\"\n",
                4,
                "key `command`: invalid type",
            ),
            (
                "version = 1\n[[branch.lanes]]\ntitle = \"t\"\ncommand = [\"x\"]\n",
                2,
                "id",
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

        #[test]
        fn never_panics_on_any_text(text in "\\PC*") {
            let _ = parse_manifest(&text);
        }

        #[test]
        fn a_cut_manifest_never_panics_and_errors_point_inside_it(
            cut in 0usize..400,
            extra in "[\u{e9}\u{1F600}\"\\[\\]= a-z\n]{0,8}",
        ) {
            let text = GOOD.replacen("version = 1", "version = 1 # \u{e9}t\u{e9}", 1);
            let end = (0..=cut.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            let text = format!("{}{extra}", &text[..end]);
            if let Err(e) = parse_manifest(&text) {
                proptest::prop_assert!(e.line >= 1 && e.line <= text.lines().count().max(1) + 1, "{e}");
            }
        }
    }
}

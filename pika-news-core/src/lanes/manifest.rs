//! `ci/forge-lanes.toml`: which lanes run for a branch head, and which run
//! every night on the default branch.
//!
//! ```toml
//! version = 1
//! nightly_schedule_utc = "08:00"   # needed when there are nightly lanes
//!
//! [[branch.lanes]]
//! id = "pre-merge"
//! title = "pre-merge checks"
//! pikaci_target = "pre-merge"      # or: staged_linux_target = "pre-merge"
//!                                  # or: command = ["make", "test"]
//! entrypoint = "just pre-merge"    # optional: what the lane is shown as
//! paths = ["src/**"]               # optional: run only when a changed file matches
//! concurrency_group = "heavy"      # optional
//! timeout_secs = 3600              # optional
//!
//! [[nightly.lanes]]
//! id = "nightly"
//! command = ["./scripts/nightly.sh"]
//! ```
//!
//! The keys of upstream pika's manifest read with upstream's meaning:
//! `staged_linux_target = T` and the wrapper-script form `command =
//! ["./scripts/pikaci-staged-linux-remote.sh", "run", T]` are both pikaci
//! target `T` (`pikaci run T --output jsonl`), and a `staged_linux_target`
//! lane without a `concurrency_group` is in group `staged-linux:T`. A
//! `command` that runs pikaci itself, such as upstream's `["nix", "run",
//! ".#pikaci", "--", "run", T]`, is a pikaci lane too: run as written with
//! `--output jsonl` appended, its events read and its run recorded.
//!
//! Selection ([`LaneManifest::select`]) follows upstream too: every branch
//! lane runs when the file that defines the lanes changed (the manifest, or
//! the pipeline file of lanes made of its targets: [`LaneManifest::definition`])
//! or when the diff is empty (or unknown); otherwise the lanes with no
//! `paths` and those whose `paths` match a changed file.

use std::collections::BTreeSet;
use std::fmt;

use globset::{Glob, GlobSet, GlobSetBuilder};
use pikaci_core::contract::{WrappedPikaci, pikaci_in_argv};
use pikaci_core::{CiLane, CiLanes, path_matcher};
use pikaci_core::{IdError, TargetId, TomlLocation, contract, validate_id};
use serde::Deserialize;
use toml::Spanned;

/// Where the manifest lives in a branch.
pub const MANIFEST_PATH: &str = "ci/forge-lanes.toml";

/// The file name of upstream's wrapper script: a lane whose command is
/// `[<...>/pikaci-staged-linux-remote.sh, "run", T]` is pikaci target `T`.
pub const STAGED_LINUX_WRAPPER: &str = "pikaci-staged-linux-remote.sh";

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

impl fmt::Display for LaneId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
    /// An argv that runs pikaci itself, `--output jsonl` appended
    /// (upstream's `nix run .#pikaci -- run <target>`): run as written,
    /// read as a pikaci lane (see [`pikaci_in_argv`]).
    PikaciArgv {
        /// The argv to run, `--output jsonl` included.
        argv: Vec<String>,
        /// The target it runs.
        target: TargetId,
    },
}

impl LaneCommand {
    /// The command line as shown to people (shell-quoted, no server paths).
    pub fn shown(&self) -> String {
        match self {
            Self::Argv(argv) => contract::shell_join(argv),
            Self::PikaciTarget(t) => contract::shell_join(["pikaci", "run", t.as_str()]),
            Self::PikaciArgv { argv, .. } => contract::shell_join(argv),
        }
    }

    /// The pikaci target it runs, if it is a pikaci lane.
    pub fn pikaci_target(&self) -> Option<&TargetId> {
        match self {
            Self::PikaciTarget(t) | Self::PikaciArgv { target: t, .. } => Some(t),
            Self::Argv(_) => None,
        }
    }

    /// Whether the lane's child is pikaci, whose stdout carries its events
    /// and whose exit code says why it failed.
    pub fn is_pikaci(&self) -> bool {
        self.pikaci_target().is_some()
    }

    /// An argv lane as written in a manifest: upstream's wrapper-script form
    /// is pikaci target `T` run by the service's pikaci; an argv that runs
    /// pikaci itself ([`pikaci_in_argv`]) is run as written, as a pikaci
    /// lane; anything else is a plain argv. The error says what is wrong.
    pub fn of_argv(argv: &[String]) -> Result<Self, String> {
        if let Some(wrapped) = wrapper_target(argv) {
            let target = wrapped?;
            return target
                .parse()
                .map(Self::PikaciTarget)
                .map_err(|e: IdError| e.to_string());
        }
        match pikaci_in_argv(argv) {
            None => Ok(Self::Argv(argv.to_vec())),
            Some(Ok(WrappedPikaci { target, argv })) => Ok(Self::PikaciArgv { argv, target }),
            Some(Err(e)) => Err(e.to_string()),
        }
    }
}

/// One `[[branch.lanes]]` or `[[nightly.lanes]]`.
#[derive(Debug, Clone)]
pub struct LaneDef {
    /// Its id.
    pub id: LaneId,
    /// Its title.
    pub title: String,
    /// What it runs.
    pub command: LaneCommand,
    /// What it is shown as, when the manifest says (`entrypoint`).
    pub entrypoint: Option<String>,
    /// Path globs; empty means always.
    pub paths: Vec<String>,
    matcher: Option<GlobSet>,
    /// Lanes of one group run one at a time.
    pub concurrency_group: Option<String>,
    /// Its wall-clock limit, when not the service default.
    pub timeout_secs: Option<u64>,
}

impl LaneDef {
    /// Whether the lane's `paths` match one of the changed paths (a lane
    /// without `paths` always matches).
    pub fn matches(&self, changed: &[String]) -> bool {
        match &self.matcher {
            None => true,
            Some(set) => changed.iter().any(|p| set.is_match(p)),
        }
    }

    /// The lane CI makes of a pikaci target (`pikaci run <target>`, run by
    /// the service's pikaci), its paths and group the target's.
    pub fn of_ci_lane(lane: &CiLane) -> Self {
        Self {
            id: LaneId(lane.id.as_str().to_owned()),
            title: lane.title.clone(),
            command: LaneCommand::PikaciTarget(lane.id.clone()),
            entrypoint: None,
            paths: lane.paths.clone(),
            matcher: path_matcher(&lane.paths)
                .expect("a target's paths were checked when its pipeline was parsed"),
            concurrency_group: lane.concurrency_group.clone(),
            timeout_secs: None,
        }
    }

    /// What the lane is shown as: its `entrypoint`, else its command line.
    pub fn shown_entrypoint(&self) -> String {
        self.entrypoint
            .clone()
            .unwrap_or_else(|| self.command.shown())
    }
}

pub use pikaci_core::NightlyTime;

/// A parsed manifest.
#[derive(Debug, Clone)]
pub struct LaneManifest {
    /// The file in the repository that defines these lanes (a change to it
    /// runs every lane): [`MANIFEST_PATH`] for a branch's manifest, the
    /// pipeline file for lanes made of its targets, none for a manifest kept
    /// on the server.
    pub definition: Option<String>,
    /// The branch lanes, in file order.
    pub lanes: Vec<LaneDef>,
    /// When the nightly lanes run each day (UTC).
    pub nightly_schedule: Option<NightlyTime>,
    /// The nightly lanes, in file order.
    pub nightly_lanes: Vec<LaneDef>,
}

/// Why [`LaneManifest::select`] chose what it chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// The changed files are unknown (e.g. no default branch to compare with): every lane.
    UnknownDiff,
    /// Nothing changed: every lane.
    EmptyDiff,
    /// The file that defines the lanes changed (the manifest, or the
    /// pipeline file whose targets they are): every lane.
    ManifestChanged,
    /// The lanes without `paths` and those whose `paths` match a changed file.
    Paths,
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnknownDiff => "the changed files are unknown: every lane runs",
            Self::EmptyDiff => "no file changed: every lane runs",
            Self::ManifestChanged => "the lanes' definition file changed: every lane runs",
            Self::Paths => "lanes without paths, and those whose paths match a changed file",
        })
    }
}

impl LaneManifest {
    /// The branch lanes to run for a head whose changed files are `changed`
    /// (`None`: unknown), by upstream's rules.
    pub fn select(&self, changed: Option<&[String]>) -> Vec<&LaneDef> {
        self.select_why(changed).0
    }

    /// [`Self::select`], and why.
    pub fn select_why(&self, changed: Option<&[String]>) -> (Vec<&LaneDef>, Selection) {
        let why = match changed {
            None => Selection::UnknownDiff,
            Some([]) => Selection::EmptyDiff,
            Some(c) if c.iter().any(|p| Some(p) == self.definition.as_ref()) => {
                Selection::ManifestChanged
            }
            Some(_) => Selection::Paths,
        };
        let lanes = match (why, changed) {
            (Selection::Paths, Some(c)) => self.lanes.iter().filter(|l| l.matches(c)).collect(),
            _ => self.select_all(),
        };
        (lanes, why)
    }

    /// Every branch lane, in file order.
    pub fn select_all(&self) -> Vec<&LaneDef> {
        self.lanes.iter().collect()
    }

    /// The lanes CI makes of a pipeline's targets, as a manifest: a change
    /// to the pipeline file runs every lane, as it does by the targets' own
    /// rule ([`CiLanes::select`]).
    pub fn of_ci_lanes(lanes: &CiLanes) -> Self {
        Self {
            definition: Some(lanes.definition.clone()),
            lanes: lanes.branch.iter().map(LaneDef::of_ci_lane).collect(),
            nightly_schedule: (!lanes.nightly.is_empty()).then_some(lanes.nightly_schedule_utc),
            nightly_lanes: lanes.nightly.iter().map(LaneDef::of_ci_lane).collect(),
        }
    }
}

/// What is wrong with a manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{MANIFEST_PATH}:{line}: {message}")]
pub struct ManifestError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in bytes) on that line.
    pub column: usize,
    /// What is wrong, naming the key.
    pub message: String,
}

impl ManifestError {
    /// The error with another file name in front (`FILE:LINE: message`).
    pub fn in_file(&self, file: &str) -> String {
        format!("{file}:{}: {}", self.line, self.message)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    version: Spanned<i64>,
    nightly_schedule_utc: Option<Spanned<String>>,
    #[serde(default)]
    branch: RawGroup,
    #[serde(default)]
    nightly: RawGroup,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    #[serde(default)]
    lanes: Vec<RawLane>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLane {
    id: Spanned<String>,
    #[serde(default)]
    title: String,
    entrypoint: Option<Spanned<String>>,
    command: Option<Spanned<Vec<String>>>,
    pikaci_target: Option<Spanned<String>>,
    staged_linux_target: Option<Spanned<String>>,
    #[serde(default)]
    paths: Vec<Spanned<String>>,
    concurrency_group: Option<Spanned<String>>,
    timeout_secs: Option<Spanned<u64>>,
}

/// The target of upstream's wrapper-script form, `[.../pikaci-staged-linux-remote.sh,
/// "run", T]` (optionally followed by `--output jsonl`, which pikaci lanes
/// always get): `None` for any other command, `Some(Err)` for the script
/// with arguments this form does not take.
pub fn wrapper_target(argv: &[String]) -> Option<Result<&str, String>> {
    let program = argv.first()?;
    if program.rsplit('/').next() != Some(STAGED_LINUX_WRAPPER) {
        return None;
    }
    Some(match argv {
        [_, run, target] if run == "run" => Ok(target.as_str()),
        [_, run, target, output, jsonl]
            if run == "run" && output == "--output" && jsonl == "jsonl" =>
        {
            Ok(target.as_str())
        }
        _ => Err(format!(
            "`{STAGED_LINUX_WRAPPER}` lanes take `run TARGET` only (they run `pikaci run TARGET`)"
        )),
    })
}

/// Turns each problem into a [`ManifestError`] at its place in the text.
struct At<'a> {
    text: &'a str,
}

impl At<'_> {
    fn err(&self, offset: usize, message: String) -> ManifestError {
        let at = TomlLocation::at(self.text, offset);
        ManifestError {
            line: at.line,
            column: at.column,
            message,
        }
    }

    fn target(&self, t: &Spanned<String>, key: &str) -> Result<TargetId, ManifestError> {
        t.get_ref()
            .trim()
            .parse()
            .map_err(|e: IdError| self.err(t.span().start, format!("key `{key}`: {e}")))
    }
}

/// Parses and checks a manifest.
pub fn parse_manifest(text: &str) -> Result<LaneManifest, ManifestError> {
    let at = At { text };
    let raw: Raw = toml::from_str(text).map_err(|e| {
        let loc = TomlLocation::of_error(text, &e);
        let message = e.message().trim();
        // toml's own messages for a wrong value do not name the key.
        let message = match loc.key {
            Some(key) if !message.contains(&format!("`{key}`")) => {
                format!("key `{key}`: {message}")
            }
            _ => message.to_owned(),
        };
        ManifestError {
            line: loc.line,
            column: loc.column,
            message,
        }
    })?;
    if *raw.version.get_ref() != 1 {
        return Err(at.err(
            raw.version.span().start,
            format!(
                "key `version`: version {} is not supported (use 1)",
                raw.version.get_ref()
            ),
        ));
    }
    let nightly_schedule = raw
        .nightly_schedule_utc
        .map(|s| {
            NightlyTime::parse(s.get_ref().trim()).ok_or_else(|| {
                at.err(
                    s.span().start,
                    format!(
                        "key `nightly_schedule_utc`: {:?} is not a time of day; use \"HH:MM\" (UTC)",
                        s.get_ref()
                    ),
                )
            })
        })
        .transpose()?;
    let branch_lanes = lanes(&at, raw.branch.lanes)?;
    if let (None, Some(first)) = (nightly_schedule, raw.nightly.lanes.first()) {
        return Err(at.err(
            first.id.span().start,
            "`[[nightly.lanes]]` need `nightly_schedule_utc = \"HH:MM\"` (UTC) at the top".into(),
        ));
    }
    let nightly_lanes = lanes(&at, raw.nightly.lanes)?;
    Ok(LaneManifest {
        definition: Some(MANIFEST_PATH.to_owned()),
        lanes: branch_lanes,
        nightly_schedule,
        nightly_lanes,
    })
}

/// One table's lanes, ids unique within it.
fn lanes(at: &At<'_>, raw: Vec<RawLane>) -> Result<Vec<LaneDef>, ManifestError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for rl in raw {
        let id_at = rl.id.span().start;
        let def = lane(at, rl)?;
        if !seen.insert(def.id.clone()) {
            return Err(at.err(
                id_at,
                format!("key `id`: lane `{}` is defined twice", def.id.as_str()),
            ));
        }
        out.push(def);
    }
    Ok(out)
}

/// What a lane runs, from `command`, `pikaci_target` and `staged_linux_target`.
fn command(at: &At<'_>, id: &LaneId, rl: &RawLane) -> Result<LaneCommand, ManifestError> {
    let target = match (&rl.pikaci_target, &rl.staged_linux_target) {
        (Some(_), Some(s)) => {
            return Err(at.err(
                s.span().start,
                format!(
                    "lane `{id}`: give `pikaci_target` or `staged_linux_target`, not both (they mean the same)"
                ),
            ));
        }
        (Some(t), None) => Some(at.target(t, "pikaci_target")?),
        (None, Some(s)) => Some(at.target(s, "staged_linux_target")?),
        (None, None) => None,
    };
    let from_command = match &rl.command {
        None => None,
        Some(c) => {
            let argv = c.get_ref();
            if argv.is_empty() || argv[0].is_empty() {
                return Err(at.err(
                    c.span().start,
                    format!("key `command`: lane `{id}` has an empty command"),
                ));
            }
            Some(
                LaneCommand::of_argv(argv)
                    .map_err(|e| at.err(c.span().start, format!("key `command`: {e}")))?,
            )
        }
    };
    match (from_command, target) {
        (Some(c), None) => Ok(c),
        (None, Some(t)) => Ok(LaneCommand::PikaciTarget(t)),
        // Upstream wrote both for one lane: fine when they say the same.
        (Some(LaneCommand::PikaciTarget(c)), Some(t)) if c == t => Ok(LaneCommand::PikaciTarget(t)),
        (Some(c @ LaneCommand::PikaciArgv { .. }), Some(t)) if c.pikaci_target() == Some(&t) => {
            Ok(c)
        }
        (Some(_), Some(_)) => {
            // The later of the two keys: the one that made it too much.
            let later = [
                rl.command.as_ref().map(|c| c.span().start),
                rl.pikaci_target.as_ref().map(|t| t.span().start),
                rl.staged_linux_target.as_ref().map(|t| t.span().start),
            ]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(0);
            Err(at.err(
                later,
                format!("lane `{id}`: give `command` or a pikaci target, not both"),
            ))
        }
        (None, None) => Err(at.err(
            rl.id.span().start,
            format!("lane `{id}`: needs `command`, `pikaci_target` or `staged_linux_target`"),
        )),
    }
}

fn lane(at: &At<'_>, rl: RawLane) -> Result<LaneDef, ManifestError> {
    let id = LaneId::parse(rl.id.get_ref())
        .map_err(|e| at.err(rl.id.span().start, format!("key `id`: {e}")))?;
    let command = command(at, &id, &rl)?;
    let mut builder = GlobSetBuilder::new();
    let mut paths = Vec::new();
    for p in &rl.paths {
        let glob = Glob::new(p.get_ref())
            .map_err(|e| at.err(p.span().start, format!("key `paths`: bad glob: {e}")))?;
        builder.add(glob);
        paths.push(p.get_ref().clone());
    }
    let matcher = if paths.is_empty() {
        None
    } else {
        Some(
            builder
                .build()
                .map_err(|e| at.err(rl.id.span().start, format!("key `paths`: {e}")))?,
        )
    };
    if let Some(g) = &rl.concurrency_group
        && g.get_ref().trim().is_empty()
    {
        return Err(at.err(
            g.span().start,
            "key `concurrency_group`: must not be empty".into(),
        ));
    }
    if let Some(t) = &rl.timeout_secs
        && *t.get_ref() == 0
    {
        return Err(at.err(
            t.span().start,
            "key `timeout_secs`: must be at least 1".into(),
        ));
    }
    if let Some(e) = &rl.entrypoint
        && (e.get_ref().trim().is_empty() || e.get_ref().chars().any(char::is_control))
    {
        return Err(at.err(
            e.span().start,
            "key `entrypoint`: must be one line of text".into(),
        ));
    }
    // Upstream's staged lanes of one target run one at a time unless told otherwise.
    let concurrency_group = rl
        .concurrency_group
        .map(|g| g.into_inner().trim().to_owned())
        .or_else(|| {
            rl.staged_linux_target
                .as_ref()
                .map(|t| format!("staged-linux:{}", t.get_ref().trim()))
        });
    Ok(LaneDef {
        title: if rl.title.trim().is_empty() {
            id.as_str().to_owned()
        } else {
            rl.title
        },
        id,
        command,
        entrypoint: rl.entrypoint.map(|e| e.into_inner().trim().to_owned()),
        paths,
        matcher,
        concurrency_group,
        timeout_secs: rl.timeout_secs.map(Spanned::into_inner),
    })
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;

//! Where a head's lanes come from, in order ([`lanes_of_head`]):
//!
//! 1. the head's `ci/forge-lanes.toml` ([`LaneSource::HeadManifest`]);
//! 2. else the head's `pikaci.toml` targets that have a CI trigger, each a
//!    pikaci lane `pikaci run <target> --output jsonl`
//!    ([`LaneSource::HeadPipeline`]);
//! 3. else the manifest the server's configuration names
//!    (`[forge_repo] lanes_manifest`, [`LaneSource::ServerManifest`]): the
//!    lanes of a tree that defines neither, such as today's pika.
//!
//! The head's files are read through [`HeadFiles`], so the choice is tested
//! without git.

use std::fmt;
use std::str::FromStr;

use camino::{Utf8Path, Utf8PathBuf};
use pikaci_core::{CiLanes, Pipeline, PipelineError};

use super::manifest::{LaneManifest, MANIFEST_PATH, parse_manifest};

/// The pipeline file whose targets may say how CI runs them.
pub const PIPELINE_PATH: &str = "pikaci.toml";

/// Reads a file of the head being looked at.
pub trait HeadFiles {
    /// Why a file could not be read.
    type Error: std::error::Error + Send + Sync + 'static;
    /// The text of the regular file at `path` (relative to the repository's
    /// root), `None` when there is none.
    fn read(&self, path: &str) -> Result<Option<String>, Self::Error>;
}

/// Which source a suite's lanes came from (stored with the suite).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LaneSource {
    /// The head's `ci/forge-lanes.toml`.
    HeadManifest,
    /// The head's `pikaci.toml` targets with a CI trigger.
    HeadPipeline,
    /// The server's `[forge_repo] lanes_manifest`.
    ServerManifest,
}

impl LaneSource {
    /// Its stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HeadManifest => "head_manifest",
            Self::HeadPipeline => "head_pipeline",
            Self::ServerManifest => "server_manifest",
        }
    }

    /// What people read: where the lanes were defined.
    pub fn describe(self) -> &'static str {
        match self {
            Self::HeadManifest => "ci/forge-lanes.toml at the head",
            Self::HeadPipeline => "the CI targets of pikaci.toml at the head",
            Self::ServerManifest => "the server's lanes manifest (lanes_manifest)",
        }
    }
}

impl fmt::Display for LaneSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A stored name that is no [`LaneSource`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown lane source `{0}`")]
pub struct UnknownLaneSource(String);

impl FromStr for LaneSource {
    type Err = UnknownLaneSource;
    fn from_str(s: &str) -> Result<Self, UnknownLaneSource> {
        [Self::HeadManifest, Self::HeadPipeline, Self::ServerManifest]
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownLaneSource(s.to_owned()))
    }
}

/// The manifest a server keeps for trees that define no lanes: its file,
/// and its text as read (or why it could not be).
#[derive(Debug)]
pub struct ServerManifest {
    /// The file, as the configuration names it.
    pub path: Utf8PathBuf,
    /// Its text.
    pub text: std::io::Result<String>,
}

impl ServerManifest {
    /// Reads `path` now (the server reads it for each new head, so an edit
    /// needs no restart).
    pub fn read(path: &Utf8Path) -> Self {
        Self {
            path: path.to_owned(),
            text: std::fs::read_to_string(path),
        }
    }
}

/// A head's lanes, and where they came from.
#[derive(Debug, Clone)]
pub struct SourcedLanes {
    /// Where.
    pub source: LaneSource,
    /// The lanes, as a manifest.
    pub manifest: LaneManifest,
}

/// Why a head's lanes cannot be known (its suite fails with this message).
#[derive(Debug, thiserror::Error)]
pub enum LaneSourceError<E: std::error::Error + 'static> {
    /// A file of the head could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: &'static str,
        /// Why.
        #[source]
        source: E,
    },
    /// The head's manifest is not valid.
    #[error("{0}")]
    Manifest(#[source] super::manifest::ManifestError),
    /// The head's `pikaci.toml` is not valid.
    #[error("{0}")]
    Pipeline(#[source] PipelineError),
    /// The server's manifest could not be read.
    #[error("cannot read the server's lanes_manifest {path}")]
    ServerRead {
        /// The file.
        path: Utf8PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server's manifest is not valid (`FILE:LINE: message`).
    #[error("{0}")]
    ServerManifest(String),
}

/// The lanes of the head `files` reads, from the first source that has
/// any (see the module docs); `None` when no source defines a lane.
///
/// A head's `pikaci.toml` that is not valid fails, as its manifest would:
/// it may be what was meant to define the lanes. One whose targets have no
/// CI trigger defines none, and the server's manifest is looked at.
pub fn lanes_of_head<F: HeadFiles>(
    files: &F,
    server: Option<ServerManifest>,
) -> Result<Option<SourcedLanes>, LaneSourceError<F::Error>> {
    let read = |path: &'static str| {
        files
            .read(path)
            .map_err(|source| LaneSourceError::Read { path, source })
    };
    if let Some(text) = read(MANIFEST_PATH)? {
        let manifest = parse_manifest(&text).map_err(LaneSourceError::Manifest)?;
        return Ok(Some(SourcedLanes {
            source: LaneSource::HeadManifest,
            manifest,
        }));
    }
    if let Some(text) = read(PIPELINE_PATH)? {
        let pipeline = Pipeline::parse(&text, Utf8Path::new(PIPELINE_PATH))
            .map_err(LaneSourceError::Pipeline)?;
        let lanes = CiLanes::of(&pipeline, PIPELINE_PATH);
        if !lanes.is_empty() {
            return Ok(Some(SourcedLanes {
                source: LaneSource::HeadPipeline,
                manifest: LaneManifest::of_ci_lanes(&lanes),
            }));
        }
    }
    let Some(ServerManifest { path, text }) = server else {
        return Ok(None);
    };
    let text = text.map_err(|source| LaneSourceError::ServerRead {
        path: path.clone(),
        source,
    })?;
    let mut manifest = parse_manifest(&text)
        .map_err(|e| LaneSourceError::ServerManifest(e.in_file(path.as_str())))?;
    // Not a file of the tree: no change to the tree is a change to it.
    manifest.definition = None;
    Ok(Some(SourcedLanes {
        source: LaneSource::ServerManifest,
        manifest,
    }))
}

/// What a suite says when no source defines a lane.
pub const NO_LANES: &str = "no ci/forge-lanes.toml, no pikaci.toml target with a CI trigger, and no lanes_manifest on the server: nothing to run";

#[cfg(test)]
#[path = "lane_source_tests.rs"]
mod tests;

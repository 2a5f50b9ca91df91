//! The choice of a head's lane source, over files held in memory.

use std::collections::BTreeMap;

use super::*;
use crate::lanes::manifest::{LaneCommand, Selection};

/// A head's files in memory; a file named in `broken` cannot be read.
#[derive(Default)]
struct Files {
    files: BTreeMap<&'static str, String>,
    broken: Option<&'static str>,
}

impl Files {
    fn with(mut self, path: &'static str, text: &str) -> Self {
        self.files.insert(path, text.to_owned());
        self
    }
}

impl HeadFiles for Files {
    type Error = std::io::Error;
    fn read(&self, path: &str) -> Result<Option<String>, std::io::Error> {
        if self.broken == Some(path) {
            return Err(std::io::Error::other("object missing"));
        }
        Ok(self.files.get(path).cloned())
    }
}

const MANIFEST: &str =
    "version = 1\n[[branch.lanes]]\nid = \"from-manifest\"\ncommand = [\"true\"]\n";

const PIPELINE: &str = r#"
[ci]
nightly_schedule_utc = "07:30"

[[job]]
id = "test"
command = "true"

[[target]]
id = "pre-merge-pika-rust"
title = "pika-rust"
jobs = ["test"]
paths = ["crates/pika/**", "Cargo.lock"]
ci = { trigger = "branch", concurrency_group = "staged-linux:pre-merge-pika-rust" }

[[target]]
id = "pre-merge-docs"
jobs = ["test"]
paths = ["docs/*.md"]
ci = { trigger = "branch" }

[[target]]
id = "always"
jobs = ["test"]
ci = { trigger = "branch" }

[[target]]
id = "nightly-all"
jobs = ["test"]
ci = { trigger = "nightly", concurrency_group = "nightly" }

[[target]]
id = "by-hand"
jobs = ["test"]
"#;

const NO_CI: &str =
    "[[job]]\nid = \"test\"\ncommand = \"true\"\n[[target]]\nid = \"t\"\njobs = [\"test\"]\n";

fn server(text: &str) -> Option<ServerManifest> {
    Some(ServerManifest {
        path: "/etc/pika-news/lanes.toml".into(),
        text: Ok(text.to_owned()),
    })
}

fn ids(m: &LaneManifest) -> Vec<&str> {
    m.lanes.iter().map(|l| l.id.as_str()).collect()
}

#[test]
fn the_heads_manifest_comes_first() {
    let files = Files::default()
        .with(MANIFEST_PATH, MANIFEST)
        .with(PIPELINE_PATH, PIPELINE);
    let got = lanes_of_head(&files, server(MANIFEST)).unwrap().unwrap();
    assert_eq!(got.source, LaneSource::HeadManifest);
    assert_eq!(ids(&got.manifest), ["from-manifest"]);
    assert_eq!(got.manifest.definition.as_deref(), Some(MANIFEST_PATH));
}

#[test]
fn else_the_heads_pikaci_targets_with_a_ci_trigger() {
    let files = Files::default().with(PIPELINE_PATH, PIPELINE);
    let got = lanes_of_head(&files, server(MANIFEST)).unwrap().unwrap();
    assert_eq!(got.source, LaneSource::HeadPipeline);
    let m = &got.manifest;
    assert_eq!(ids(m), ["pre-merge-pika-rust", "pre-merge-docs", "always"]);
    let rust = &m.lanes[0];
    assert_eq!(
        rust.command,
        LaneCommand::PikaciTarget("pre-merge-pika-rust".parse().unwrap())
    );
    assert_eq!(rust.title, "pika-rust");
    assert_eq!(rust.paths, ["pikaci.toml", "crates/pika/**", "Cargo.lock"]);
    assert_eq!(
        rust.concurrency_group.as_deref(),
        Some("staged-linux:pre-merge-pika-rust")
    );
    assert_eq!(rust.shown_entrypoint(), "pikaci run pre-merge-pika-rust");
    assert_eq!(
        m.nightly_schedule.map(|t| t.to_string()).as_deref(),
        Some("07:30")
    );
    assert_eq!(m.nightly_lanes.len(), 1);
    assert_eq!(m.nightly_lanes[0].id.as_str(), "nightly-all");
    assert_eq!(
        m.nightly_lanes[0].concurrency_group.as_deref(),
        Some("nightly")
    );
    // No [ci] table: upstream's 08:00 UTC.
    let plain = PIPELINE.replace("[ci]\nnightly_schedule_utc = \"07:30\"\n", "");
    let got = lanes_of_head(&Files::default().with(PIPELINE_PATH, &plain), None)
        .unwrap()
        .unwrap();
    assert_eq!(
        got.manifest
            .nightly_schedule
            .map(|t| t.to_string())
            .as_deref(),
        Some("08:00")
    );
}

#[test]
fn else_the_servers_manifest_then_nothing() {
    // A pikaci.toml whose targets CI never runs defines no lanes.
    let files = Files::default().with(PIPELINE_PATH, NO_CI);
    let got = lanes_of_head(&files, server(MANIFEST)).unwrap().unwrap();
    assert_eq!(got.source, LaneSource::ServerManifest);
    assert_eq!(ids(&got.manifest), ["from-manifest"]);
    assert_eq!(
        got.manifest.definition, None,
        "no file of the tree defines the server's lanes"
    );
    // Its own path in the tree is no definition either.
    let changed = vec![MANIFEST_PATH.to_owned(), "README".to_owned()];
    assert_eq!(got.manifest.select_why(Some(&changed)).1, Selection::Paths);
    assert!(lanes_of_head(&files, None).unwrap().is_none());
    assert!(lanes_of_head(&Files::default(), None).unwrap().is_none());
    let got = lanes_of_head(&Files::default(), server(MANIFEST))
        .unwrap()
        .unwrap();
    assert_eq!(got.source, LaneSource::ServerManifest);
}

#[test]
fn errors_say_which_file_and_where() {
    let bad_manifest =
        Files::default().with(MANIFEST_PATH, "version = 1\n[[branch.lanes]]\nid = \"x\"\n");
    let e = lanes_of_head(&bad_manifest, None).unwrap_err().to_string();
    assert!(
        e.starts_with("ci/forge-lanes.toml:3: lane `x`: needs"),
        "{e}"
    );

    let bad_pipeline =
        Files::default().with(PIPELINE_PATH, "[[target]]\nid = \"t\"\njobs = [\"nope\"]\n");
    let e = lanes_of_head(&bad_pipeline, server(MANIFEST))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("pikaci.toml:"), "{e}");

    let e = lanes_of_head(
        &Files::default(),
        server("version = 1\n[[nightly.lanes]]\nid = \"n\"\ncommand = [\"x\"]\n"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("/etc/pika-news/lanes.toml:3: "), "{e}");

    let gone = Some(ServerManifest {
        path: "/etc/pika-news/gone.toml".into(),
        text: Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
    });
    let e = lanes_of_head(&Files::default(), gone).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot read the server's lanes_manifest /etc/pika-news/gone.toml"
    );

    let broken = Files {
        broken: Some(PIPELINE_PATH),
        ..Files::default()
    };
    let e = lanes_of_head(&broken, server(MANIFEST)).unwrap_err();
    assert!(
        matches!(
            e,
            LaneSourceError::Read {
                path: PIPELINE_PATH,
                ..
            }
        ),
        "{e:?}"
    );
}

/// The pipeline's lanes select as the targets' own rule does
/// (`CiLanes::select`, which `pikaci targets --ci --changed` prints).
#[test]
fn pipeline_lanes_select_as_the_targets_own_rule() {
    let pipeline = Pipeline::parse(PIPELINE, Utf8Path::new(PIPELINE_PATH)).unwrap();
    let ci = CiLanes::of(&pipeline, PIPELINE_PATH);
    let files = Files::default().with(PIPELINE_PATH, PIPELINE);
    let sourced = lanes_of_head(&files, None).unwrap().unwrap().manifest;
    let cases: &[&[&str]] = &[
        &[],
        &["pikaci.toml"],
        &["pikaci.toml", "README.md"],
        &["Cargo.lock"],
        &["README.md"],
        &["docs/deep/er/page.md"],
        &["crates/pika/src/lib.rs", "docs/a.md"],
        &["crates/pikachat/src/lib.rs"],
    ];
    for changed in cases {
        let changed: Vec<String> = changed.iter().map(|s| (*s).to_owned()).collect();
        let (want, _) = ci.select(Some(&changed));
        let want: Vec<&str> = want.iter().map(|l| l.id.as_str()).collect();
        let (got, _) = sourced.select_why(Some(&changed));
        let got: Vec<&str> = got.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(got, want, "{changed:?}");
    }
    assert_eq!(sourced.select(None).len(), ci.select(None).0.len());
}

#[test]
fn stored_names_read_back() {
    for s in [
        LaneSource::HeadManifest,
        LaneSource::HeadPipeline,
        LaneSource::ServerManifest,
    ] {
        assert_eq!(s.as_str().parse::<LaneSource>(), Ok(s));
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
    assert!("elsewhere".parse::<LaneSource>().is_err());
}

//! The manifest parser: our keys, upstream pika's keys, selection, errors.

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
    // Nothing changed: every lane, as upstream.
    assert_eq!(ids(m.select(Some(&[]))), ["pre-merge", "lint"]);
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

fn ids(v: &[&LaneDef]) -> Vec<String> {
    v.iter().map(|l| l.id.as_str().to_owned()).collect()
}

fn changed(paths: &[&str]) -> Vec<String> {
    paths.iter().map(|p| (*p).to_owned()).collect()
}

#[test]
fn selection_follows_upstream_rules() {
    let m = parse_manifest(GOOD).unwrap();
    let (lanes, why) = m.select_why(Some(&changed(&["ci/forge-lanes.toml"])));
    assert_eq!(
        (ids(&lanes), why),
        (ids(&m.select_all()), Selection::ManifestChanged)
    );
    let (lanes, why) = m.select_why(Some(&[]));
    assert_eq!((lanes.len(), why), (2, Selection::EmptyDiff));
    let (lanes, why) = m.select_why(None);
    assert_eq!((lanes.len(), why), (2, Selection::UnknownDiff));
    let (lanes, why) = m.select_why(Some(&changed(&["README.md"])));
    assert_eq!(
        (ids(&lanes), why),
        (vec!["lint".to_owned()], Selection::Paths)
    );
    assert!(
        Selection::ManifestChanged
            .to_string()
            .contains("every lane")
    );
}

#[test]
fn upstream_keys_read_with_upstream_meaning() {
    let m = parse_manifest(
        r#"
version = 1
nightly_schedule_utc = "07:30"

[[branch.lanes]]
id = "linux"
title = "linux"
staged_linux_target = "pre-merge-pika-rust"

[[branch.lanes]]
id = "wrapped"
title = "wrapped"
entrypoint = "./scripts/pikaci-staged-linux-remote.sh run pre-merge-rmp"
command = ["./scripts/pikaci-staged-linux-remote.sh", "run", "pre-merge-rmp"]

[[branch.lanes]]
id = "both"
staged_linux_target = "t"
command = ["scripts/pikaci-staged-linux-remote.sh", "run", "t", "--output", "jsonl"]
concurrency_group = "mine"

[[nightly.lanes]]
id = "nightly"
title = "nightly"
entrypoint = "./nightly.sh"
command = ["./nightly.sh"]
"#,
    )
    .unwrap();
    let linux = &m.lanes[0];
    assert_eq!(
        linux.command,
        LaneCommand::PikaciTarget("pre-merge-pika-rust".parse().unwrap())
    );
    assert_eq!(
        linux.concurrency_group.as_deref(),
        Some("staged-linux:pre-merge-pika-rust")
    );
    assert_eq!(linux.entrypoint, None);
    assert_eq!(linux.shown_entrypoint(), "pikaci run pre-merge-pika-rust");
    let wrapped = &m.lanes[1];
    assert_eq!(
        wrapped.command.pikaci_target().map(|t| t.as_str()),
        Some("pre-merge-rmp")
    );
    assert_eq!(
        wrapped.concurrency_group, None,
        "only staged_linux_target implies a group"
    );
    assert_eq!(
        wrapped.shown_entrypoint(),
        "./scripts/pikaci-staged-linux-remote.sh run pre-merge-rmp"
    );
    let both = &m.lanes[2];
    assert_eq!(both.command.pikaci_target().map(|t| t.as_str()), Some("t"));
    assert_eq!(both.concurrency_group.as_deref(), Some("mine"));
    assert_eq!(
        m.nightly_schedule,
        Some(NightlyTime {
            hour: 7,
            minute: 30
        })
    );
    assert_eq!(m.nightly_lanes.len(), 1);
    assert_eq!(m.nightly_lanes[0].shown_entrypoint(), "./nightly.sh");
    assert_eq!(
        m.nightly_lanes[0].command,
        LaneCommand::Argv(vec!["./nightly.sh".into()])
    );
}

#[test]
fn nightly_times() {
    for (text, (h, m)) in [("08:00", (8, 0)), ("0:05", (0, 5)), ("23:59", (23, 59))] {
        let t = NightlyTime::parse(text).unwrap();
        assert_eq!((t.hour, t.minute), (h, m), "{text}");
    }
    assert_eq!(NightlyTime::parse("8:00").unwrap().to_string(), "08:00");
    for bad in [
        "24:00", "08:60", "8", "08:0", "08:000", "+8:00", "08-00", "", "aa:bb",
    ] {
        assert_eq!(NightlyTime::parse(bad), None, "{bad}");
    }
}

#[test]
fn upstream_key_errors_name_line_and_key() {
    let cases = [
        (
            "version = 1\nnightly_schedule_utc = \"8am\"\n",
            2,
            "key `nightly_schedule_utc`",
        ),
        (
            "version = 1\n[[nightly.lanes]]\nid = \"n\"\ncommand = [\"x\"]\n",
            3,
            "nightly_schedule_utc",
        ),
        (
            "version = 1\n[[branch.lanes]]\nid = \"a\"\npikaci_target = \"t\"\nstaged_linux_target = \"t\"\n",
            5,
            "not both",
        ),
        (
            "version = 1\n[[branch.lanes]]\nid = \"a\"\nstaged_linux_target = \"t\"\ncommand = [\"make\"]\n",
            5,
            "not both",
        ),
        (
            "version = 1\n[[branch.lanes]]\nid = \"a\"\ncommand = [\"./scripts/pikaci-staged-linux-remote.sh\", \"prepare\", \"t\"]\n",
            4,
            "`run TARGET` only",
        ),
        (
            "version = 1\n[[branch.lanes]]\nid = \"a\"\ncommand = [\"./scripts/pikaci-staged-linux-remote.sh\", \"run\", \"../t\"]\n",
            4,
            "key `command`",
        ),
        (
            "version = 1\n[[branch.lanes]]\nid = \"a\"\nstaged_linux_target = \"a b\"\n",
            4,
            "key `staged_linux_target`",
        ),
        (
            "version = 1\n[[branch.lanes]]\nid = \"a\"\ncommand = [\"x\"]\nentrypoint = \" \"\n",
            5,
            "key `entrypoint`",
        ),
        (
            "version = 1\nnightly_schedule_utc = \"01:00\"\n[[nightly.lanes]]\nid = \"n\"\ncommand = [\"x\"]\n[[nightly.lanes]]\nid = \"n\"\ncommand = [\"y\"]\n",
            7,
            "twice",
        ),
        ("version = 1\n[[nightly.lane]]\nid = \"a\"\n", 2, "lane"),
    ];
    for (text, line, needle) in cases {
        let e = parse_manifest(text).unwrap_err();
        assert_eq!(e.line, line, "{text}: {e}");
        assert!(e.to_string().contains(needle), "{text}: {e}");
    }
    let e = parse_manifest("version = 2\n").unwrap_err();
    assert_eq!(
        e.in_file("my/lanes.toml"),
        format!("my/lanes.toml:1: {}", e.message)
    );
}

#[test]
fn a_lane_id_may_be_both_a_branch_and_a_nightly_lane() {
    let m = parse_manifest(
        "version = 1\nnightly_schedule_utc = \"01:00\"\n[[branch.lanes]]\nid = \"a\"\ncommand = [\"x\"]\n[[nightly.lanes]]\nid = \"a\"\ncommand = [\"y\"]\n",
    )
    .unwrap();
    assert_eq!((m.lanes.len(), m.nightly_lanes.len()), (1, 1));
}

/// A manifest written to the shape of upstream pika's own.
const PIKA: &str = include_str!("../../tests/fixtures/pika-forge-lanes.toml");

fn pika_selects(paths: &[&str]) -> Vec<String> {
    let m = parse_manifest(PIKA).expect("pika's manifest parses");
    ids(&m.select(Some(&changed(paths))))
}

#[test]
fn pikas_manifest_parses_as_upstream_reads_it() {
    let m = parse_manifest(PIKA).expect("pika's manifest parses");
    assert_eq!(m.lanes.len(), 10);
    assert_eq!(m.nightly_schedule, Some(NightlyTime { hour: 8, minute: 0 }));
    for (lane, target) in [
        ("pika_rust", "pre-merge-pika-rust"),
        ("pika_followup", "pre-merge-pika-followup"),
        ("notifications", "pre-merge-notifications"),
        ("agent_contracts", "pre-merge-agent-contracts"),
        ("rmp", "pre-merge-rmp"),
        ("pikachat", "pre-merge-pikachat-rust"),
        ("pikachat_typescript", "pre-merge-pikachat-typescript"),
        ("pikachat_openclaw_e2e", "pre-merge-pikachat-openclaw-e2e"),
        ("fixture", "pre-merge-fixture-rust"),
    ] {
        let def = m.lanes.iter().find(|l| l.id.as_str() == lane).expect(lane);
        assert_eq!(
            def.command,
            LaneCommand::PikaciTarget(target.parse().unwrap()),
            "{lane}"
        );
        assert_eq!(
            def.concurrency_group.as_deref(),
            Some(format!("staged-linux:{target}").as_str())
        );
    }
    let apple = m
        .lanes
        .iter()
        .find(|l| l.id.as_str() == "apple_host_sanity")
        .unwrap();
    assert!(
        matches!(&apple.command, LaneCommand::Argv(a) if a[0] == "./scripts/pikaci-apple-github-step")
    );
    assert_eq!(apple.concurrency_group.as_deref(), Some("apple-host"));
    assert_eq!(
        apple.shown_entrypoint(),
        "./scripts/pikaci-apple-github-step remote-run --just-recipe apple-host-sanity"
    );
    assert_eq!(
        ids(&m.nightly_lanes.iter().collect::<Vec<_>>()),
        [
            "nightly_linux",
            "nightly_pika",
            "nightly_pikachat",
            "nightly_pika_ui_android",
            "nightly_apple_host_bundle"
        ]
    );
    assert_eq!(
        m.nightly_lanes[3].concurrency_group.as_deref(),
        Some("nightly-android")
    );
    assert_eq!(
        m.nightly_lanes[0].shown_entrypoint(),
        "just rmp_tools::rmp-nightly-linux"
    );
}

#[test]
fn pikas_manifest_selects_as_upstream_does() {
    let docs = pika_selects(&["docs/testing/ci-selectors.md"]);
    for lane in ["pika_rust", "pika_followup", "fixture"] {
        assert!(docs.contains(&lane.to_owned()), "{lane}: {docs:?}");
    }
    for lane in ["notifications", "rmp"] {
        assert!(!docs.contains(&lane.to_owned()), "{lane}: {docs:?}");
    }
    let rust = pika_selects(&["rust/src/lib.rs"]);
    for lane in [
        "pika_rust",
        "pika_followup",
        "pikachat",
        "apple_host_sanity",
        "fixture",
    ] {
        assert!(rust.contains(&lane.to_owned()), "{lane}: {rust:?}");
    }
    for path in [
        "pikachat-claude/src/access.test.ts",
        "pikachat-claude/src/channel-runtime.ts",
        "pikachat-claude/package.json",
    ] {
        assert_eq!(pika_selects(&[path]), ["pikachat_typescript"], "{path}");
    }
    for path in ["crates/pika-news/src/web.rs", "crates/ph/src/lib.rs"] {
        assert_eq!(
            pika_selects(&[path]),
            ["notifications", "agent_contracts"],
            "{path}"
        );
    }
    for path in ["AGENTS.md", ".agents/skills/land/SKILL.md"] {
        assert_eq!(
            pika_selects(&[path]),
            ["pika_followup", "agent_contracts"],
            "{path}"
        );
    }
    // The manifest itself, or nothing at all: every branch lane.
    assert_eq!(pika_selects(&["ci/forge-lanes.toml"]).len(), 10);
    assert_eq!(pika_selects(&[]).len(), 10);
    // A path no lane watches: nothing.
    assert!(pika_selects(&["LICENSE"]).is_empty());
}

//! [`Pipeline::parse`]: the text of `pikaci.toml` read, checked and turned
//! into a [`Pipeline`]; every error names the file, the line and the key.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use camino::Utf8Path;
use serde::Deserialize;
use toml::Spanned;

use super::ci::{CiSettings, CiTrigger, NightlyTime, TargetCi};
use super::ci_lanes::path_matcher;
use super::error::{PipelineError, SourceText};
use super::model::{DEFAULT_MAX_LOG_BYTES, DEFAULT_TIMEOUT_SECS, JobSpec, Pipeline, TargetSpec};
use crate::ids::{IdError, JobId, TargetId};
use crate::section::ConfigSection;
use crate::status::ExecutorKind;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    #[serde(default)]
    job: Vec<RawJob>,
    #[serde(default)]
    target: Vec<RawTarget>,
    incus: Option<toml::Table>,
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    ci: RawCi,
}

/// `[ci]`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCi {
    nightly_schedule_utc: Option<Spanned<String>>,
}

/// A target's `ci = { ... }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTargetCi {
    trigger: Option<Spanned<String>>,
    concurrency_group: Option<Spanned<String>>,
}

/// `[defaults]`: values for every job that does not set its own.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    max_log_bytes: Option<Spanned<ByteSize>>,
}

/// A size: a number of bytes, or a string such as `"512MiB"`.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum ByteSize {
    Bytes(u64),
    Text(String),
}

impl ByteSize {
    /// The number of bytes, or what is wrong.
    fn bytes(&self) -> Result<u64, String> {
        let n = match self {
            Self::Bytes(n) => *n,
            Self::Text(text) => parse_size(text)?,
        };
        if n == 0 {
            return Err("must be at least 1 byte".into());
        }
        Ok(n)
    }
}

/// `"1024"`, `"64KiB"`, `"512 MiB"`, `"1GiB"`, `"2TiB"` (binary units; `B` too).
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let bad =
        || format!("{text:?} is not a size: use bytes, or a number with B, KiB, MiB, GiB or TiB");
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let shift = match unit.trim() {
        "" | "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        "TiB" => 40,
        _ => return Err(bad()),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    id: Spanned<String>,
    #[serde(default)]
    description: String,
    command: Spanned<String>,
    timeout_secs: Option<Spanned<u64>>,
    #[serde(default)]
    executor: Option<Spanned<String>>,
    #[serde(default)]
    run_as_root: bool,
    #[serde(default)]
    writable_workspace: bool,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    needs: Vec<Spanned<String>>,
    max_log_bytes: Option<Spanned<ByteSize>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    id: Spanned<String>,
    title: Option<Spanned<String>>,
    #[serde(default)]
    description: String,
    jobs: Vec<Spanned<String>>,
    #[serde(default)]
    paths: Vec<Spanned<String>>,
    ci: Option<RawTargetCi>,
}

impl Pipeline {
    /// Parses and validates `text`; `file` is only used in error messages.
    pub fn parse(text: &str, file: &Utf8Path) -> Result<Self, PipelineError> {
        let src = SourceText { file, text };
        let raw: RawPipeline = toml::from_str(text).map_err(|e| src.syntax(&e))?;

        let size = |s: &Spanned<ByteSize>| {
            s.get_ref()
                .bytes()
                .map_err(|m| src.invalid(s.span(), "max_log_bytes", m))
        };
        let default_max_log_bytes = match &raw.defaults.max_log_bytes {
            Some(s) => size(s)?,
            None => DEFAULT_MAX_LOG_BYTES,
        };
        let mut jobs = Vec::with_capacity(raw.job.len());
        let mut seen = BTreeSet::new();
        let mut needs_spans = Vec::new();
        for rj in raw.job {
            let id = parse_id::<JobId>(&src, &rj.id, "id")?;
            if !seen.insert(id.clone()) {
                return Err(src.invalid(
                    rj.id.span(),
                    "id",
                    format!("job `{id}` is defined twice"),
                ));
            }
            if rj.command.get_ref().trim().is_empty() {
                return Err(src.invalid(rj.command.span(), "command", "the command is empty"));
            }
            let timeout_secs = match rj.timeout_secs {
                Some(t) if *t.get_ref() == 0 => {
                    return Err(src.invalid(t.span(), "timeout_secs", "must be at least 1"));
                }
                Some(t) => t.into_inner(),
                None => DEFAULT_TIMEOUT_SECS,
            };
            let executor = match rj.executor {
                None => ExecutorKind::Host,
                Some(e) => match ExecutorKind::from(e.get_ref().as_str()) {
                    ExecutorKind::Other(name) => {
                        return Err(src.invalid(
                            e.span(),
                            "executor",
                            format!("unknown executor {name:?}; use \"host\" or \"incus\""),
                        ));
                    }
                    known => known,
                },
            };
            let mut needs = Vec::new();
            for n in &rj.needs {
                needs.push(parse_id::<JobId>(&src, n, "needs")?);
                needs_spans.push((n.span(), id.clone()));
            }
            let max_log_bytes = match &rj.max_log_bytes {
                Some(s) => size(s)?,
                None => default_max_log_bytes,
            };
            jobs.push(JobSpec {
                id,
                description: rj.description,
                command: rj.command.into_inner(),
                timeout_secs,
                executor,
                run_as_root: rj.run_as_root,
                writable_workspace: rj.writable_workspace,
                env: rj.env,
                needs,
                max_log_bytes,
            });
        }
        for (span, _) in &needs_spans {
            let name = text[span.clone()].trim_matches('"');
            if !jobs.iter().any(|j| j.id.as_str() == name) {
                return Err(src.invalid_with_suggestion(
                    span.clone(),
                    "needs",
                    format!("no job `{name}` in this file"),
                    name,
                    jobs.iter().map(|j| j.id.as_str()),
                ));
            }
        }

        let mut targets = Vec::with_capacity(raw.target.len());
        let mut seen_targets = BTreeSet::new();
        for rt in raw.target {
            let id = parse_id::<TargetId>(&src, &rt.id, "id")?;
            if !seen_targets.insert(id.clone()) {
                return Err(src.invalid(
                    rt.id.span(),
                    "id",
                    format!("target `{id}` is defined twice"),
                ));
            }
            let mut target_jobs = Vec::new();
            for j in &rt.jobs {
                let jid = parse_id::<JobId>(&src, j, "jobs")?;
                if !jobs.iter().any(|spec| spec.id == jid) {
                    return Err(src.invalid_with_suggestion(
                        j.span(),
                        "jobs",
                        format!("target `{id}` names job `{jid}`, which this file does not define"),
                        jid.as_str(),
                        jobs.iter().map(|spec| spec.id.as_str()),
                    ));
                }
                target_jobs.push(jid);
            }
            let title = match rt.title {
                Some(t) if t.get_ref().trim().is_empty() => {
                    return Err(src.invalid(t.span(), "title", "the title is empty"));
                }
                Some(t) => Some(t.into_inner()),
                None => None,
            };
            let paths: Vec<String> = rt.paths.iter().map(|p| p.get_ref().clone()).collect();
            if let Err((i, e)) = path_matcher(&paths) {
                return Err(src.invalid(
                    rt.paths[i].span(),
                    "paths",
                    format!("bad glob: {}", e.kind()),
                ));
            }
            targets.push(TargetSpec {
                id,
                title,
                description: rt.description,
                jobs: target_jobs,
                paths,
                ci: target_ci(&src, rt.ci)?,
            });
        }

        let ci = match raw.ci.nightly_schedule_utc {
            None => CiSettings::default(),
            Some(t) => CiSettings {
                nightly_schedule_utc: NightlyTime::parse(t.get_ref()).ok_or_else(|| {
                    src.invalid(
                        t.span(),
                        "nightly_schedule_utc",
                        format!(
                            "{:?} is not a time of day: use \"HH:MM\" (UTC)",
                            t.get_ref()
                        ),
                    )
                })?,
            },
        };
        let pipeline = Self {
            jobs,
            targets,
            ci,
            incus: match raw.incus {
                Some(table) => ConfigSection::from_file("incus", table, file, Arc::from(text)),
                None => ConfigSection::from_table("incus", toml::Table::new()),
            },
        };
        if let Some(cycle_job) = pipeline.find_cycle() {
            let span = needs_spans
                .iter()
                .find(|(_, owner)| *owner == cycle_job)
                .map_or(0..0, |(s, _)| s.clone());
            return Err(src.invalid(
                span,
                "needs",
                format!("job `{cycle_job}` depends on itself through `needs`"),
            ));
        }
        Ok(pipeline)
    }

    fn find_cycle(&self) -> Option<JobId> {
        // Depth-first search with colours: 1 = on the stack, 2 = done.
        fn visit(p: &Pipeline, id: &JobId, colour: &mut BTreeMap<JobId, u8>) -> Option<JobId> {
            match colour.get(id) {
                Some(1) => return Some(id.clone()),
                Some(_) => return None,
                None => {}
            }
            colour.insert(id.clone(), 1);
            for n in p.job(id).map(|j| j.needs.as_slice()).unwrap_or_default() {
                if let Some(c) = visit(p, n, colour) {
                    return Some(c);
                }
            }
            colour.insert(id.clone(), 2);
            None
        }
        let mut colour = BTreeMap::new();
        self.jobs
            .iter()
            .find_map(|j| visit(self, &j.id, &mut colour))
    }
}

fn target_ci(src: &SourceText<'_>, raw: Option<RawTargetCi>) -> Result<TargetCi, PipelineError> {
    let Some(raw) = raw else {
        return Ok(TargetCi::default());
    };
    let trigger = match &raw.trigger {
        None => CiTrigger::default(),
        Some(t) => CiTrigger::parse(t.get_ref()).ok_or_else(|| {
            src.invalid(
                t.span(),
                "trigger",
                format!(
                    "unknown trigger {:?}; use \"branch\", \"nightly\" or \"none\"",
                    t.get_ref()
                ),
            )
        })?,
    };
    let concurrency_group = match raw.concurrency_group {
        Some(g) if g.get_ref().trim().is_empty() => {
            return Err(src.invalid(g.span(), "concurrency_group", "the group is empty"));
        }
        Some(g) => Some(g.into_inner()),
        None => None,
    };
    Ok(TargetCi {
        trigger,
        concurrency_group,
    })
}

fn parse_id<T>(src: &SourceText<'_>, s: &Spanned<String>, key: &str) -> Result<T, PipelineError>
where
    T: std::str::FromStr<Err = IdError>,
{
    s.get_ref()
        .parse()
        .map_err(|e: IdError| src.invalid(s.span(), key, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Pipeline, PipelineError> {
        Pipeline::parse(text, Utf8Path::new("pikaci.toml"))
    }

    #[test]
    fn the_test_job_has_the_defaults_of_a_job_that_sets_nothing() {
        let p = parse("[[job]]\nid = \"a\"\ncommand = \"x\"\n").unwrap();
        assert_eq!(p.jobs, [JobSpec::for_test("a", "x")]);
    }

    #[test]
    fn parses_jobs_targets_and_incus() {
        let p = parse(
            r#"
[incus]
project = "p"
cpu = 4

[[job]]
id = "fmt"
command = "cargo fmt --check"

[[job]]
id = "test"
description = "tests"
command = "cargo test"
timeout_secs = 10
executor = "incus"
run_as_root = true
writable_workspace = true
env = { RUST_LOG = "debug" }
needs = ["fmt"]

[[target]]
id = "ci"
jobs = ["fmt", "test"]
"#,
        )
        .unwrap();
        assert_eq!(p.jobs.len(), 2);
        assert_eq!(p.jobs[0].timeout_secs, DEFAULT_TIMEOUT_SECS);
        assert_eq!(p.jobs[0].executor, ExecutorKind::Host);
        let t = &p.jobs[1];
        assert_eq!(t.executor, ExecutorKind::Incus);
        assert!(t.run_as_root && t.writable_workspace);
        assert_eq!(t.env["RUST_LOG"], "debug");
        assert_eq!(t.needs[0].as_str(), "fmt");
        assert_eq!(p.targets[0].jobs.len(), 2);
        assert_eq!(p.incus.table()["project"].as_str(), Some("p"));
        assert_eq!(p.incus.table()["cpu"].as_integer(), Some(4));
    }

    #[test]
    fn max_log_bytes_per_job_or_from_defaults() {
        let p = parse(
            "[defaults]\nmax_log_bytes = \"64 MiB\"\n\
             [[job]]\nid = \"a\"\ncommand = \"x\"\n\
             [[job]]\nid = \"b\"\ncommand = \"x\"\nmax_log_bytes = 1000\n\
             [[job]]\nid = \"c\"\ncommand = \"x\"\nmax_log_bytes = \"2GiB\"\n",
        )
        .unwrap();
        let caps: Vec<u64> = p.jobs.iter().map(|j| j.max_log_bytes).collect();
        assert_eq!(caps, [64 << 20, 1000, 2 << 30]);
        let p = parse("[[job]]\nid = \"a\"\ncommand = \"x\"\n").unwrap();
        assert_eq!(p.jobs[0].max_log_bytes, DEFAULT_MAX_LOG_BYTES);
        for (text, line) in [
            (
                "[[job]]\nid = \"a\"\ncommand = \"x\"\nmax_log_bytes = 0\n",
                4,
            ),
            (
                "[[job]]\nid = \"a\"\ncommand = \"x\"\nmax_log_bytes = \"lots\"\n",
                4,
            ),
            ("[defaults]\nmax_log_bytes = \"5 GB\"\n", 2),
            ("[defaults]\nmax_log_bytes = \"99999999999TiB\"\n", 2),
        ] {
            match parse(text).unwrap_err() {
                PipelineError::Invalid { line: l, key, .. } => {
                    assert_eq!((l, key.as_str()), (line, "max_log_bytes"), "{text}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(parse("[defaults]\ntimeout = 3\n").is_err());
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = parse("[[job]]\nid = \"a\"\ncommand = \"true\"\ncommnd = \"x\"\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("pikaci.toml:4:"), "{msg}");
        assert!(msg.contains("commnd"), "{msg}");
    }

    #[test]
    fn bad_value_names_the_key() {
        let err = parse("[[job]]\nid = \"a\"\ncommand = \"true\"\ntimeout_secs = \"soon\"\n")
            .unwrap_err();
        match err {
            PipelineError::Syntax { line, key, .. } => {
                assert_eq!(line, 4);
                assert_eq!(key.as_deref(), Some("timeout_secs"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn semantic_errors_point_at_their_line() {
        let cases = [
            ("[[job]]\nid = \"../x\"\ncommand = \"true\"\n", 2, "id"),
            ("[[job]]\nid = \"a\"\ncommand = \"  \"\n", 3, "command"),
            (
                "[[job]]\nid = \"a\"\ncommand = \"true\"\ntimeout_secs = 0\n",
                4,
                "timeout_secs",
            ),
            (
                "[[job]]\nid = \"a\"\ncommand = \"true\"\nexecutor = \"docker\"\n",
                4,
                "executor",
            ),
            (
                "[[job]]\nid = \"a\"\ncommand = \"true\"\n[[job]]\nid = \"a\"\ncommand = \"true\"\n",
                5,
                "id",
            ),
            (
                "[[job]]\nid = \"a\"\ncommand = \"true\"\n[[target]]\nid = \"t\"\njobs = [\"b\"]\n",
                6,
                "jobs",
            ),
            (
                "[[job]]\nid = \"a\"\ncommand = \"true\"\nneeds = [\"zz\"]\n",
                4,
                "needs",
            ),
            (
                "[[job]]\nid = \"a\"\ncommand = \"true\"\nneeds = [\"a\"]\n",
                4,
                "needs",
            ),
        ];
        for (text, want_line, want_key) in cases {
            match parse(text).unwrap_err() {
                PipelineError::Invalid { line, key, .. } => {
                    assert_eq!((line, key.as_str()), (want_line, want_key), "{text}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}

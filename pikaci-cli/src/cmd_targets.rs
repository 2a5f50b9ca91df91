//! `pikaci targets [--ci] [--changed PATH]... [--output json]`.

use std::io::Write;

use camino::Utf8Path;
use pikaci_core::{CiLane, CiLanes, Pipeline, Selection, TargetSpec};
use serde::Serialize;

use crate::args::{ListOutput, TargetsOpts};
use crate::context::{DEFAULT_PIPELINE, absolute, load_pipeline};
use crate::exit::{CliError, EXIT_OK};

/// `pikaci targets`.
pub(crate) fn targets(cwd: &Utf8Path, opts: &TargetsOpts) -> Result<u8, CliError> {
    let named = opts
        .config
        .as_deref()
        .unwrap_or(Utf8Path::new(DEFAULT_PIPELINE));
    let pipeline = load_pipeline(&absolute(named, cwd))?;
    // The name a change to the file has in a diff: as given when relative
    // (from the repository's root), else its file name.
    let definition = if named.is_relative() {
        named.as_str()
    } else {
        named.file_name().unwrap_or(DEFAULT_PIPELINE)
    };
    let text = if opts.ci {
        let lanes = CiLanes::of(&pipeline, definition);
        // No --changed reads as an empty diff, as `pika-news manifest check` does.
        let (selected, why) = lanes.select(Some(&opts.changed));
        match opts.output {
            ListOutput::Json => json(&CiAnswer {
                lanes: &lanes,
                changed: &opts.changed,
                selection: why,
                selected: selected.iter().map(|l| l.id.as_str()).collect(),
            })?,
            ListOutput::Human => ci_text(definition, &lanes, &opts.changed, &selected, why),
        }
    } else {
        match opts.output {
            ListOutput::Json => json(&TargetsAnswer::of(definition, &pipeline))?,
            ListOutput::Human => targets_text(&pipeline),
        }
    };
    print_quietly(&text)?;
    Ok(EXIT_OK)
}

/// Prints `text`; a closed pipe (`| head`) ends quietly (exit 141).
fn print_quietly(text: &str) -> Result<(), CliError> {
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(crate::exit::printing)
}

fn json(value: &impl Serialize) -> Result<String, CliError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|e| CliError::Internal {
        what: "writing JSON".into(),
        source: e.into(),
    })?;
    text.push('\n');
    Ok(text)
}

#[derive(Serialize)]
struct TargetsAnswer<'a> {
    file: &'a str,
    nightly_schedule_utc: String,
    targets: Vec<TargetEntry<'a>>,
}

#[derive(Serialize)]
struct TargetEntry<'a> {
    id: &'a str,
    title: &'a str,
    description: &'a str,
    jobs: Vec<&'a str>,
    paths: &'a [String],
    ci: &'a pikaci_core::TargetCi,
}

impl<'a> TargetsAnswer<'a> {
    fn of(file: &'a str, pipeline: &'a Pipeline) -> Self {
        Self {
            file,
            nightly_schedule_utc: pipeline.ci.nightly_schedule_utc.to_string(),
            targets: pipeline.targets.iter().map(TargetEntry::of).collect(),
        }
    }
}

impl<'a> TargetEntry<'a> {
    fn of(t: &'a TargetSpec) -> Self {
        Self {
            id: t.id.as_str(),
            title: t.title.as_deref().unwrap_or(t.id.as_str()),
            description: &t.description,
            jobs: t.jobs.iter().map(|j| j.as_str()).collect(),
            paths: &t.paths,
            ci: &t.ci,
        }
    }
}

#[derive(Serialize)]
struct CiAnswer<'a> {
    #[serde(flatten)]
    lanes: &'a CiLanes,
    changed: &'a [String],
    selection: Selection,
    selected: Vec<&'a str>,
}

fn targets_text(pipeline: &Pipeline) -> String {
    if pipeline.targets.is_empty() {
        return "no targets: add a [[target]] with an id and its jobs\n".to_owned();
    }
    let rows: Vec<[String; 5]> = pipeline
        .targets
        .iter()
        .map(|t| {
            let jobs: Vec<&str> = t.jobs.iter().map(|j| j.as_str()).collect();
            [
                t.id.to_string(),
                t.title.clone().unwrap_or_default(),
                t.ci.trigger.to_string(),
                t.ci.concurrency_group.clone().unwrap_or_default(),
                jobs.join(", "),
            ]
        })
        .collect();
    table(["TARGET", "TITLE", "CI", "GROUP", "JOBS"], &rows)
}

fn table<const N: usize>(head: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = head.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(head.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

fn lane_line(lane: &CiLane) -> String {
    let mut line = format!("  {}  {}", lane.id, lane.command.join(" "));
    if let Some(g) = &lane.concurrency_group {
        line.push_str(&format!("  [group {g}]"));
    }
    if lane.paths.is_empty() {
        line.push_str("  (any change)");
    } else {
        line.push_str(&format!("  paths: {}", lane.paths.join(", ")));
    }
    line + "\n"
}

fn ci_text(
    file: &str,
    lanes: &CiLanes,
    changed: &[String],
    selected: &[&CiLane],
    why: Selection,
) -> String {
    let mut out = format!(
        "{file}: {} branch lanes, {} nightly lanes at {} UTC\n",
        lanes.branch.len(),
        lanes.nightly.len(),
        lanes.nightly_schedule_utc
    );
    if lanes.is_empty() {
        out.push_str(
            "no target has a CI trigger: add ci = { trigger = \"branch\" } (or \"nightly\") to a [[target]]\n",
        );
        return out;
    }
    for (name, list) in [("branch", &lanes.branch), ("nightly", &lanes.nightly)] {
        if !list.is_empty() {
            out.push_str(&format!("{name} lanes:\n"));
            list.iter().for_each(|l| out.push_str(&lane_line(l)));
        }
    }
    if changed.is_empty() {
        out.push_str("no --changed paths: every branch lane runs, as for an empty diff\n");
    } else {
        let ids: Vec<&str> = selected.iter().map(|l| l.id.as_str()).collect();
        out.push_str(&format!(
            "changed: {}\nselected ({why}): {}\n",
            changed.join(", "),
            if ids.is_empty() {
                "none".to_owned()
            } else {
                ids.join(", ")
            }
        ));
    }
    out
}

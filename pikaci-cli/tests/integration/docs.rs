//! The documentation stays in step: every relative link of the workspace's
//! Markdown files leads to a file (and heading) that exists, and
//! `docs/cli.md` names every `pikaci` subcommand and flag that `--help`
//! shows.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use pikaci_cli::args::Cli;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate sits in the workspace")
        .to_path_buf()
}

/// The Markdown files git tracks.
fn markdown_files() -> Vec<PathBuf> {
    let out = std::process::Command::new("git")
        .args(["ls-files", "-z", "--", "*.md"])
        .current_dir(workspace())
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git ls-files: {out:?}");
    out.stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| workspace().join(String::from_utf8_lossy(p).as_ref()))
        .collect()
}

/// The text outside fenced code blocks and code spans.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
            } else if !in_code {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out
}

/// The targets of the inline links `[text](target)` in `text`.
fn links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        let after = &rest[i + 2..];
        match after.find(')') {
            Some(end) => {
                found.push(after[..end].trim().to_owned());
                rest = &after[end..];
            }
            None => break,
        }
    }
    found
}

/// A heading's anchor as GitHub makes it: lowercase, spaces to `-`, other
/// punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(file: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut fenced = false;
    text.lines()
        .filter(|l| {
            if l.trim_start().starts_with("```") {
                fenced = !fenced;
            }
            !fenced && l.starts_with('#')
        })
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let files = markdown_files();
    assert!(files.len() >= 10, "{files:?}");
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for link in links(&prose(&text)) {
            if link.contains("://") || link.starts_with("mailto:") || link.is_empty() {
                continue;
            }
            checked += 1;
            let (path, fragment) = link.split_once('#').unwrap_or((&link, ""));
            let target = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            let name = file
                .strip_prefix(workspace())
                .unwrap()
                .display()
                .to_string();
            if !target.exists() {
                broken.push(format!("{name}: {link}: no such file"));
            } else if !fragment.is_empty()
                && target.extension().is_some_and(|e| e == "md")
                && !anchors(&target).contains(fragment)
            {
                broken.push(format!("{name}: {link}: no such heading"));
            }
        }
    }
    assert!(checked > 20, "only {checked} links checked");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn docs_cli_md_names_every_subcommand_and_flag() {
    let doc = std::fs::read_to_string(workspace().join("docs/cli.md")).unwrap();
    let mut missing = Vec::new();
    let mut stack = vec![(String::from("pikaci"), Cli::command())];
    while let Some((path, cmd)) = stack.pop() {
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            if let Some(long) = arg.get_long()
                && !matches!(long, "help" | "version")
                && !doc.contains(&format!("--{long}"))
            {
                missing.push(format!("{path} --{long}"));
            }
        }
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let sub_path = format!("{path} {}", sub.get_name());
            if !doc.contains(&format!("{} ", sub_path.trim_start_matches("pikaci ")))
                && !doc.contains(&sub_path)
            {
                missing.push(sub_path.clone());
            }
            stack.push((sub_path, sub.clone()));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/cli.md does not name: {}",
        missing.join(", ")
    );
}

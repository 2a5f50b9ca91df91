//! `pika-news manifest check FILE [--changed PATH]...`: which lanes a
//! manifest would run for a set of changed paths, or what is wrong with it,
//! so a manifest can be checked before it is pushed.

use std::fmt;

use super::manifest::{LaneDef, LaneManifest, ManifestError, Selection, parse_manifest};

/// What a manifest would run.
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// The file, as named on the command line.
    pub file: String,
    /// The parsed manifest.
    pub manifest: LaneManifest,
    /// The changed paths given.
    pub changed: Vec<String>,
}

/// Parses `text` (the manifest in `file`); the error reads `FILE:LINE: message`.
pub fn check(file: &str, text: &str, changed: Vec<String>) -> Result<CheckReport, String> {
    match parse_manifest(text) {
        Ok(manifest) => Ok(CheckReport {
            file: file.to_owned(),
            manifest,
            changed,
        }),
        Err(e) => Err(ManifestError::in_file(&e, file)),
    }
}

impl CheckReport {
    /// The branch lanes that would run, and why.
    pub fn selected(&self) -> (Vec<&LaneDef>, Selection) {
        self.manifest.select_why(Some(&self.changed))
    }
}

fn lane_line(f: &mut fmt::Formatter<'_>, lane: &LaneDef, width: usize) -> fmt::Result {
    write!(
        f,
        "  {:<width$}  {}",
        lane.id.as_str(),
        lane.command.shown()
    )?;
    if let Some(e) = lane
        .entrypoint
        .as_deref()
        .filter(|e| *e != lane.command.shown())
    {
        write!(f, "  (shown as {e:?})")?;
    }
    if let Some(g) = &lane.concurrency_group {
        write!(f, "  [group {g}]")?;
    }
    writeln!(f)
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.manifest;
        let width = m
            .lanes
            .iter()
            .chain(&m.nightly_lanes)
            .map(|l| l.id.as_str().len())
            .max()
            .unwrap_or(0);
        write!(f, "{}: valid; {} branch lanes", self.file, m.lanes.len())?;
        match m.nightly_schedule {
            Some(t) => writeln!(f, ", {} nightly lanes at {t} UTC", m.nightly_lanes.len())?,
            None => writeln!(f)?,
        }
        let (lanes, why) = self.selected();
        if self.changed.is_empty() {
            writeln!(
                f,
                "no --changed paths: every lane runs, as for an empty diff"
            )?;
        } else {
            writeln!(f, "{} changed paths: {why}", self.changed.len())?;
        }
        writeln!(
            f,
            "would run {} of {} branch lanes:",
            lanes.len(),
            m.lanes.len()
        )?;
        for lane in &lanes {
            lane_line(f, lane, width)?;
        }
        if !m.nightly_lanes.is_empty() {
            writeln!(f, "nightly lanes (on the default branch's head, daily):")?;
            for lane in &m.nightly_lanes {
                lane_line(f, lane, width)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIKA: &str = include_str!("../../tests/fixtures/pika-forge-lanes.toml");

    #[test]
    fn a_report_lists_what_would_run() {
        let r = check(
            "ci/forge-lanes.toml",
            PIKA,
            vec!["crates/ph/src/lib.rs".into()],
        )
        .unwrap();
        let text = r.to_string();
        assert!(
            text.starts_with(
                "ci/forge-lanes.toml: valid; 10 branch lanes, 5 nightly lanes at 08:00 UTC\n"
            ),
            "{text}"
        );
        assert!(text.contains("would run 2 of 10 branch lanes:\n"), "{text}");
        assert!(
            text.contains(
                "  notifications              pikaci run pre-merge-notifications  [group staged-linux:pre-merge-notifications]\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("  nightly_pika_ui_android    ./scripts/forge-nightly-pika-ui-android.sh  [group nightly-android]\n"),
            "{text}"
        );
        assert!(
            text.contains("  nightly_linux              nix develop '.#default' -c just rmp_tools::rmp-nightly-linux  (shown as \"just rmp_tools::rmp-nightly-linux\")\n"),
            "{text}"
        );
        let all = check("m.toml", PIKA, vec![]).unwrap().to_string();
        assert!(all.contains("would run 10 of 10"), "{all}");
        assert!(all.contains("as for an empty diff"), "{all}");
        let manifest = check("m.toml", PIKA, vec!["ci/forge-lanes.toml".into()])
            .unwrap()
            .to_string();
        assert!(
            manifest.contains("1 changed paths: the manifest itself changed: every lane runs"),
            "{manifest}"
        );
    }

    #[test]
    fn an_error_names_the_file_and_line() {
        let e = check(
            "lanes.toml",
            "version = 1\n[[branch.lanes]]\nid = \"x\"\n",
            vec![],
        )
        .unwrap_err();
        assert!(
            e.starts_with("lanes.toml:3: lane `x`: needs `command`"),
            "{e}"
        );
    }
}

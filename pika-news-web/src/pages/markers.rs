//! The markers CIs print to group their output into foldable sections
//! ([`marker`]: GitHub's `::group::`, Buildkite's `---`/`+++`/`~~~`
//! headers, GitLab's `section_start:`/`section_end:`), and what an error
//! line looks like ([`is_error`]): the rules, line by line, that
//! [`super::sections`] folds a window with. The page's script has the same
//! rules (`viewer.js`, `marker` and `ERROR`).

/// Whose markers opened a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// `::group::` / `::endgroup::`.
    GitHub,
    /// `---`, `+++`, `~~~` headers.
    Buildkite,
    /// `section_start:` / `section_end:`.
    GitLab,
}

impl Style {
    /// The word the page marks a section with (`data-style`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::GitHub => "github",
            Self::Buildkite => "buildkite",
            Self::GitLab => "gitlab",
        }
    }
}

/// The start of a section, as its marker line says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Start {
    pub style: Style,
    /// What an end marker names it by (GitLab), else its title.
    pub name: String,
    /// What the header shows (may hold colour codes).
    pub title: String,
    /// Closed unless something opens it.
    pub closed: bool,
    /// Buildkite's `~~~`: shown de-emphasised.
    pub quiet: bool,
    /// Whether it was explicitly opened (Buildkite's `+++`).
    pub expanded: bool,
    /// GitLab's own timestamp (Unix milliseconds).
    pub stamp: Option<i64>,
}

/// What a marker line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Marker {
    /// A section starts at this line.
    Start(Start),
    /// The innermost section of this style (with this name, for GitLab) ends.
    End {
        style: Style,
        name: Option<String>,
        stamp: Option<i64>,
    },
    /// Buildkite's `^^^ +++`: open the section before.
    ExpandPrevious,
}

/// Strips the control sequences a marker may begin with (`\e[0K`).
fn strip_leading_csi(mut s: &str) -> &str {
    while let Some(rest) = s.strip_prefix("\x1b[") {
        match rest.find(|c: char| ('\x40'..='\x7e').contains(&c)) {
            Some(i) => s = &rest[i + 1..],
            None => return s,
        }
    }
    s
}

/// GitLab's `TIMESTAMP:NAME[options]` (before the `\r`).
fn gitlab_fields(s: &str) -> Option<(i64, &str, &str)> {
    let (ts, rest) = s.split_once(':')?;
    let secs: i64 = ts.parse().ok()?;
    let (name, options) = match rest.split_once('[') {
        Some((n, o)) => (n, o.strip_suffix(']').unwrap_or(o)),
        None => (rest, ""),
    };
    (!name.is_empty()).then_some((secs.saturating_mul(1000), name, options))
}

/// The marker a whole line (without its `\n`) is, if any.
pub(crate) fn marker(line: &str) -> Option<Marker> {
    let line = strip_leading_csi(line.strip_suffix('\r').unwrap_or(line));
    if let Some(name) = line.strip_prefix("::group::") {
        let name = name.trim();
        return Some(Marker::Start(Start {
            style: Style::GitHub,
            name: name.to_owned(),
            title: name.to_owned(),
            closed: true,
            quiet: false,
            expanded: false,
            stamp: None,
        }));
    }
    if line.trim_end() == "::endgroup::" {
        return Some(Marker::End {
            style: Style::GitHub,
            name: None,
            stamp: None,
        });
    }
    if line.trim_end() == "^^^ +++" {
        return Some(Marker::ExpandPrevious);
    }
    for (prefix, closed, quiet) in [
        ("--- ", true, false),
        ("+++ ", false, false),
        ("~~~ ", true, true),
    ] {
        if let Some(title) = line.strip_prefix(prefix) {
            let title = title.trim();
            return Some(Marker::Start(Start {
                style: Style::Buildkite,
                name: title.to_owned(),
                title: title.to_owned(),
                closed,
                quiet,
                expanded: !closed,
                stamp: None,
            }));
        }
    }
    if let Some(rest) = line.strip_prefix("section_start:") {
        let (fields, header) = rest.split_once('\r').unwrap_or((rest, ""));
        let (stamp, name, options) = gitlab_fields(fields)?;
        let header = strip_leading_csi(header).trim();
        let title = if header.is_empty() { name } else { header };
        return Some(Marker::Start(Start {
            style: Style::GitLab,
            name: name.to_owned(),
            title: title.to_owned(),
            closed: options.split(',').any(|o| o.trim() == "collapsed=true"),
            quiet: false,
            expanded: false,
            stamp: Some(stamp),
        }));
    }
    if let Some(rest) = line.strip_prefix("section_end:") {
        let fields = rest.split('\r').next().unwrap_or(rest);
        let (stamp, name, _) = gitlab_fields(fields)?;
        return Some(Marker::End {
            style: Style::GitLab,
            name: Some(name.to_owned()),
            stamp: Some(stamp),
        });
    }
    None
}

/// Whether a line's visible text (colour codes gone) looks like an error.
pub(crate) fn is_error(text: &str) -> bool {
    let t = text.trim_start();
    ["error:", "error[", "fatal:", "##[error]"]
        .iter()
        .any(|p| t.starts_with(p))
        || [
            "FAILED",
            "panicked at",
            "Error:",
            "ERROR",
            "Traceback (most recent call last)",
        ]
        .iter()
        .any(|p| text.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_of_the_three_cis_are_read() {
        let Some(Marker::Start(s)) = marker("::group::Build it ") else {
            panic!()
        };
        assert_eq!(
            (s.style, s.title.as_str(), s.closed),
            (Style::GitHub, "Build it", true)
        );
        assert!(matches!(
            marker("::endgroup::"),
            Some(Marker::End {
                style: Style::GitHub,
                ..
            })
        ));
        let Some(Marker::Start(s)) = marker("+++ :rust: Tests") else {
            panic!()
        };
        assert!(s.style == Style::Buildkite && !s.closed && s.expanded);
        let Some(Marker::Start(s)) = marker("~~~ setup") else {
            panic!()
        };
        assert!(s.closed && s.quiet);
        assert_eq!(marker("^^^ +++"), Some(Marker::ExpandPrevious));
        let Some(Marker::Start(s)) = marker(
            "\x1b[0Ksection_start:1560896352:my_section[collapsed=true]\r\x1b[0KHeader text",
        ) else {
            panic!()
        };
        assert_eq!(s.name, "my_section");
        assert_eq!(s.title, "Header text");
        assert_eq!(s.stamp, Some(1_560_896_352_000));
        assert!(s.closed);
        assert_eq!(
            marker("section_end:1560896353:my_section\r\x1b[0K"),
            Some(Marker::End {
                style: Style::GitLab,
                name: Some("my_section".into()),
                stamp: Some(1_560_896_353_000)
            })
        );
        for text in ["---", "a --- b", "section_start:x:y", "::group", "plain"] {
            assert_eq!(marker(text), None, "{text}");
        }
    }

    #[test]
    fn errors_are_recognised_by_their_look() {
        for e in [
            "error[E0308]: mismatched types",
            "  error: could not compile",
            "test b ... FAILED",
            "thread 'main' panicked at src/main.rs:2:5",
            "TypeError: x is undefined",
            "[ERROR] build",
            "fatal: not a git repository",
        ] {
            assert!(is_error(e), "{e}");
        }
        for ok in ["0 errors", "test a ... ok", "compiling error-chain v0.12"] {
            assert!(!is_error(ok), "{ok}");
        }
    }
}

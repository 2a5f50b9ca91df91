//! [`PipelineError`]: what is wrong with a pipeline file, and where; and
//! [`SourceText`], which turns a span of the file into one.

use std::ops::Range;

use camino::{Utf8Path, Utf8PathBuf};

use crate::suggest::did_you_mean;
use crate::toml_span::TomlLocation;

/// What is wrong with a pipeline file; each variant names the file and line,
/// and carries the byte span it points at (so a renderer can underline it)
/// and a hint (`did you mean ...`) when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    /// TOML syntax, an unknown key or a value of the wrong type.
    #[error("{file}:{line}:{column}: {key_part}{message}{help_part}", key_part = key.as_deref().map(|k| format!("key `{k}`: ")).unwrap_or_default(), help_part = help_suffix(site.help.as_deref()))]
    Syntax {
        /// The file.
        file: Utf8PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The key on that line, when there is one.
        key: Option<String>,
        /// What the parser said.
        message: String,
        /// Where exactly, and a hint (boxed: errors stay small).
        site: Box<ErrorSite>,
    },
    /// A value that parses but is not acceptable (bad id, unknown job, ...).
    #[error("{file}:{line}: key `{key}`: {message}{help_part}", help_part = help_suffix(site.help.as_deref()))]
    Invalid {
        /// The file.
        file: Utf8PathBuf,
        /// 1-based line.
        line: usize,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
        /// Where exactly, and a hint (boxed: errors stay small).
        site: Box<ErrorSite>,
    },
}

/// The bytes of a pipeline file an error is about, and a hint to fix it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorSite {
    /// The bytes of the file the error is about, when known.
    pub span: Option<Range<usize>>,
    /// A hint, such as `did you mean `timeout_secs`?`.
    pub help: Option<String>,
}

fn help_suffix(help: Option<&str>) -> String {
    help.map(|h| format!(" ({h})")).unwrap_or_default()
}

impl PipelineError {
    /// The file the error is in.
    pub fn file(&self) -> &Utf8Path {
        match self {
            Self::Syntax { file, .. } | Self::Invalid { file, .. } => file,
        }
    }

    /// The bytes of the file the error points at, when known.
    pub fn span(&self) -> Option<Range<usize>> {
        match self {
            Self::Syntax { site, .. } | Self::Invalid { site, .. } => site.span.clone(),
        }
    }

    /// The hint, when there is one (`did you mean `x`?`).
    pub fn help(&self) -> Option<&str> {
        match self {
            Self::Syntax { site, .. } | Self::Invalid { site, .. } => site.help.as_deref(),
        }
    }

    /// What is wrong, without the file, line or hint: `key `x`: message`.
    pub fn headline(&self) -> String {
        match self {
            Self::Syntax { key, message, .. } => match key {
                Some(k) => format!("key `{k}`: {message}"),
                None => message.clone(),
            },
            Self::Invalid { key, message, .. } => format!("key `{key}`: {message}"),
        }
    }
}

/// The text of a pipeline file, for errors that point at a line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SourceText<'a> {
    pub(crate) file: &'a Utf8Path,
    pub(crate) text: &'a str,
}

impl SourceText<'_> {
    /// An [`PipelineError::Invalid`] at `span`.
    pub(crate) fn invalid(
        &self,
        span: Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> PipelineError {
        PipelineError::Invalid {
            file: self.file.to_owned(),
            line: TomlLocation::at(self.text, span.start).line,
            key: key.to_owned(),
            message: message.into(),
            site: Box::new(ErrorSite {
                span: Some(span),
                help: None,
            }),
        }
    }

    /// Like [`Self::invalid`], with a `did you mean` hint for `word` among
    /// `candidates` when one is close.
    pub(crate) fn invalid_with_suggestion<'c>(
        &self,
        span: Range<usize>,
        key: &str,
        message: impl Into<String>,
        word: &str,
        candidates: impl IntoIterator<Item = &'c str>,
    ) -> PipelineError {
        let mut err = self.invalid(span, key, message);
        if let (PipelineError::Invalid { site, .. }, Some(best)) =
            (&mut err, did_you_mean(word, candidates))
        {
            site.help = Some(format!("did you mean `{best}`?"));
        }
        err
    }

    /// A TOML error (syntax, unknown key, wrong type) as a [`PipelineError::Syntax`].
    /// An unknown key gets a `did you mean` hint from the keys the parser
    /// expected.
    pub(crate) fn syntax(&self, e: &toml::de::Error) -> PipelineError {
        let at = TomlLocation::of_error(self.text, e);
        let message = e.message().trim().to_owned();
        PipelineError::Syntax {
            file: self.file.to_owned(),
            line: at.line,
            column: at.column,
            key: at.key,
            site: Box::new(ErrorSite {
                span: e.span(),
                help: unknown_key_hint(&message),
            }),
            message,
        }
    }
}

/// For serde's `unknown field `x`, expected one of `a`, `b`` (or
/// `expected `a``): the expected key closest to `x`, as a hint.
fn unknown_key_hint(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field ")?;
    let mut quoted = rest.split('`').skip(1).step_by(2);
    let unknown = quoted.next()?;
    did_you_mean(unknown, quoted).map(|best| format!("did you mean `{best}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_suggests_the_closest_expected_one() {
        let msg = "unknown field `timout_secs`, expected one of `id`, `command`, `timeout_secs`";
        assert_eq!(
            unknown_key_hint(msg).as_deref(),
            Some("did you mean `timeout_secs`?")
        );
        assert_eq!(
            unknown_key_hint("unknown field `zzzzzz`, expected `id`"),
            None
        );
        assert_eq!(unknown_key_hint("invalid type: string"), None);
    }
}

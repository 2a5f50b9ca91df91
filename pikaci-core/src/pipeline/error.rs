//! [`PipelineError`]: what is wrong with a pipeline file, and where; and
//! [`SourceText`], which turns a span of the file into one.

use std::ops::Range;

use camino::{Utf8Path, Utf8PathBuf};

use crate::toml_span::TomlLocation;

/// What is wrong with a pipeline file; each variant names the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PipelineError {
    /// TOML syntax, an unknown key or a value of the wrong type.
    #[error("{file}:{line}:{column}: {key_part}{message}", key_part = key.as_deref().map(|k| format!("key `{k}`: ")).unwrap_or_default())]
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
    },
    /// A value that parses but is not acceptable (bad id, unknown job, ...).
    #[error("{file}:{line}: key `{key}`: {message}")]
    Invalid {
        /// The file.
        file: Utf8PathBuf,
        /// 1-based line.
        line: usize,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
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
        }
    }

    /// A TOML error (syntax, unknown key, wrong type) as a [`PipelineError::Syntax`].
    pub(crate) fn syntax(&self, e: &toml::de::Error) -> PipelineError {
        let at = TomlLocation::of_error(self.text, e);
        PipelineError::Syntax {
            file: self.file.to_owned(),
            line: at.line,
            column: at.column,
            key: at.key,
            message: e.message().trim().to_owned(),
        }
    }
}

//! A table of `pikaci.toml` that this crate keeps but does not interpret.
//!
//! `[incus]` belongs to `pikaci-incus`: the pipeline parser only checks that it
//! is a table and keeps it, with the file's text, as a [`ConfigSection`]. The
//! crate that owns the table reads it with [`ConfigSection::deserialize`] and
//! [`ConfigSection::invalid`], whose errors still name the file, the line and
//! the key.

use std::ops::Range;
use std::sync::Arc;

use camino::{Utf8Path, Utf8PathBuf};
use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::pipeline::{PipelineError, SourceText};
use crate::toml_span::TomlLocation;

/// One top-level table of `pikaci.toml` (such as `[incus]`), kept as a
/// [`toml::Table`] together with the file it came from.
///
/// An absent table is an empty section. Sections built in code (with
/// [`ConfigSection::from_table`]) have no file text, so their errors cannot
/// name a line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigSection {
    name: String,
    table: toml::Table,
    file: Option<Utf8PathBuf>,
    text: Option<Arc<str>>,
}

impl ConfigSection {
    /// A section built in code: `name` is the table's key (`incus`).
    pub fn from_table(name: impl Into<String>, table: toml::Table) -> Self {
        Self {
            name: name.into(),
            table,
            file: None,
            text: None,
        }
    }

    /// The section `name` of the file `file` whose text is `text` (the table
    /// itself already parsed by the caller).
    pub(crate) fn from_file(
        name: &str,
        table: toml::Table,
        file: &Utf8Path,
        text: Arc<str>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            table,
            file: Some(file.to_owned()),
            text: Some(text),
        }
    }

    /// The table's key in the file.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The table as parsed.
    pub fn table(&self) -> &toml::Table {
        &self.table
    }

    /// Whether the table is absent or has no keys.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The file the section was read from, or `pikaci.toml` for a section
    /// built in code.
    pub fn file(&self) -> &Utf8Path {
        self.file.as_deref().unwrap_or(Utf8Path::new("pikaci.toml"))
    }

    /// Reads the section as `T` (use `#[serde(deny_unknown_fields)]` and
    /// [`toml::Spanned`] fields where a later check must point at a line).
    /// Errors name the file, the line, the column and the key.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, PipelineError> {
        let (Some(text), Some(file)) = (&self.text, &self.file) else {
            return toml::Value::Table(self.table.clone()).try_into().map_err(
                |e: toml::de::Error| PipelineError::Invalid {
                    file: self.file().to_owned(),
                    line: 0,
                    key: self.name.clone(),
                    message: e.message().trim().to_owned(),
                    site: Box::default(),
                },
            );
        };
        let src = SourceText { file, text };
        let value = match self.spanned_value(text) {
            Ok(Some(v)) => v,
            Ok(None) => Spanned::new(0..0, DeValue::Table(DeTable::default())),
            Err(e) => return Err(src.syntax(&e)),
        };
        T::deserialize(ValueDeserializer::from(value)).map_err(|e| src.syntax(&e))
    }

    /// A [`PipelineError::Invalid`] for `key` of this section; `span` is the
    /// byte range of its value (from a [`toml::Spanned`] field), if known.
    pub fn invalid(
        &self,
        key: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> PipelineError {
        let key = format!("{}.{key}", self.name);
        match (&self.text, span) {
            (Some(text), Some(span)) => SourceText {
                file: self.file(),
                text,
            }
            .invalid(span, &key, message),
            _ => PipelineError::Invalid {
                file: self.file().to_owned(),
                line: 0,
                key,
                message: message.into(),
                site: Box::default(),
            },
        }
    }

    /// The 1-based line of a byte offset in the file, when the section came
    /// from a file.
    pub fn line_of(&self, offset: usize) -> Option<usize> {
        Some(TomlLocation::at(self.text.as_deref()?, offset).line)
    }

    fn spanned_value<'t>(
        &self,
        text: &'t str,
    ) -> Result<Option<Spanned<DeValue<'t>>>, toml::de::Error> {
        let doc = DeTable::parse(text)?.into_inner();
        Ok(doc
            .into_iter()
            .find(|(k, _)| k.get_ref().as_ref() == self.name)
            .map(|(_, v)| v))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::Pipeline;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Demo {
        cpu: Option<u32>,
        name: Option<Spanned<String>>,
    }

    fn section(text: &str) -> ConfigSection {
        Pipeline::parse(text, Utf8Path::new("ci/pikaci.toml"))
            .unwrap()
            .incus
    }

    #[test]
    fn reads_the_table_and_keeps_spans() {
        let s =
            section("[[job]]\nid = \"a\"\ncommand = \"true\"\n\n[incus]\ncpu = 4\nname = \"x\"\n");
        assert_eq!(s.name(), "incus");
        assert_eq!(s.table()["cpu"].as_integer(), Some(4));
        let demo: Demo = s.deserialize().unwrap();
        assert_eq!(demo.cpu, Some(4));
        let name = demo.name.unwrap();
        assert_eq!(s.line_of(name.span().start), Some(7));
        let err = s.invalid("name", Some(name.span()), "is not allowed");
        assert_eq!(
            err.to_string(),
            "ci/pikaci.toml:7: key `incus.name`: is not allowed"
        );
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_file_line_and_key() {
        let s = section("[incus]\ncpu = 2\ncpus = 4\n");
        let msg = s.deserialize::<Demo>().unwrap_err().to_string();
        assert!(msg.starts_with("ci/pikaci.toml:3:"), "{msg}");
        assert!(msg.contains("cpus"), "{msg}");
        let s = section("[incus]\ncpu = \"many\"\n");
        match s.deserialize::<Demo>().unwrap_err() {
            PipelineError::Syntax { line, key, .. } => {
                assert_eq!((line, key.as_deref()), (2, Some("cpu")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_absent_table_is_empty_and_reads_as_defaults() {
        let s = section("[[job]]\nid = \"a\"\ncommand = \"true\"\n");
        assert!(s.is_empty());
        let demo: Demo = s.deserialize().unwrap();
        assert_eq!(
            demo,
            Demo {
                cpu: None,
                name: None
            }
        );
    }

    #[test]
    fn a_section_built_in_code_reads_without_lines() {
        let mut table = toml::Table::new();
        table.insert("cpu".into(), toml::Value::Integer(8));
        let s = ConfigSection::from_table("incus", table);
        assert_eq!(s.deserialize::<Demo>().unwrap().cpu, Some(8));
        assert_eq!(s.line_of(0), None);
        let err = s.invalid("cpu", None, "bad").to_string();
        assert!(err.contains("key `incus.cpu`: bad"), "{err}");
    }
}

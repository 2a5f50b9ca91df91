//! [`TomlLocation`]: where in a TOML text a problem is, for error messages
//! that name the line, the column and the key.

/// A place in a TOML text: the 1-based line and column (in bytes) of an
/// offset, and the key assigned on that line, if it is a `key = ...` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TomlLocation {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in bytes.
    pub column: usize,
    /// The key assigned on that line (`key = ...`), without quotes.
    pub key: Option<String>,
}

impl TomlLocation {
    /// The place of byte `offset` in `text`. An offset past the end means
    /// the end; offsets are bytes, so one inside a multi-byte character
    /// cannot panic.
    ///
    /// ```
    /// use pikaci_core::TomlLocation;
    ///
    /// let text = "[[job]]\nid = \"a\"\ntimeout_secs = \"soon\"\n";
    /// let at = TomlLocation::at(text, text.find("soon").unwrap());
    /// assert_eq!((at.line, at.column), (3, 17));
    /// assert_eq!(at.key.as_deref(), Some("timeout_secs"));
    /// ```
    pub fn at(text: &str, offset: usize) -> Self {
        let before = &text.as_bytes()[..offset.min(text.len())];
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        Self {
            line: before.iter().filter(|b| **b == b'\n').count() + 1,
            column: before.len() - line_start + 1,
            key: key_on_line(text, line_start),
        }
    }

    /// Where a parse error points (the start of its span; the start of the
    /// text when it has none).
    pub fn of_error(text: &str, error: &toml::de::Error) -> Self {
        Self::at(text, error.span().map_or(0, |s| s.start))
    }
}

/// The key of the `key = ...` line starting at byte `start`: a bare or dotted
/// key, or a quoted one (returned without its quotes). Table headers,
/// comments and lines inside multi-line strings name no key.
fn key_on_line(text: &str, start: usize) -> Option<String> {
    let line = text.get(start..)?.lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let quoted = key
        .strip_prefix('"')
        .and_then(|k| k.strip_suffix('"'))
        .filter(|k| !k.contains('"'));
    let bare = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    match quoted {
        Some(k) if !k.is_empty() => Some(k.to_owned()),
        Some(_) => None,
        None => (!key.is_empty() && key.bytes().all(bare)).then(|| key.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(line: &str) -> Option<String> {
        TomlLocation::at(line, 0).key
    }

    #[test]
    fn lines_and_columns_count_bytes_from_one() {
        let text = "a = 1\nbé = 2\n";
        let at = |o| {
            let l = TomlLocation::at(text, o);
            (l.line, l.column)
        };
        assert_eq!(at(0), (1, 1));
        assert_eq!(at(4), (1, 5));
        assert_eq!(at(6), (2, 1));
        // Inside the two bytes of `é`: no panic.
        assert_eq!(at(8), (2, 3));
        assert_eq!(at(10_000), (3, 1));
    }

    #[test]
    fn the_key_of_an_assignment_line() {
        assert_eq!(
            key("timeout_secs = \"soon\"").as_deref(),
            Some("timeout_secs")
        );
        assert_eq!(
            key("  pikaci-target = 1 # a=b").as_deref(),
            Some("pikaci-target")
        );
        assert_eq!(key("a.b = 1").as_deref(), Some("a.b"));
        assert_eq!(key("\"quoted key\" = 1").as_deref(), Some("quoted key"));
        assert_eq!(key("env = { X = \"1\" }").as_deref(), Some("env"));
        for none in [
            "[[job]]",
            "[incus] # x=y",
            "echo a=b",
            "= 1",
            "\"\" = 1",
            "plain",
        ] {
            assert_eq!(key(none), None, "{none}");
        }
    }

    #[test]
    fn a_parse_error_points_at_its_line_and_key() {
        let text = "[[job]]\nid = \"a\"\ntimeout_secs = \"soon\"\n";
        #[derive(serde::Deserialize)]
        #[expect(dead_code, reason = "only parsed, to get an error")]
        struct Doc {
            job: Vec<Job>,
        }
        #[derive(serde::Deserialize)]
        #[expect(dead_code, reason = "only parsed, to get an error")]
        struct Job {
            id: String,
            timeout_secs: u64,
        }
        let err = toml::from_str::<Doc>(text).err().unwrap();
        let at = TomlLocation::of_error(text, &err);
        assert_eq!(at.line, 3);
        assert_eq!(at.key.as_deref(), Some("timeout_secs"));
    }
}

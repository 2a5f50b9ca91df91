//! Source text reduced to the code a module graph is read from: no
//! comments, no string or character contents, no test-only items.

/// Whether `c` may be part of an identifier.
pub(crate) fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// `text` without comments, and with every string and character literal
/// emptied (`""`, `' '`), so braces, `;` and `crate::` inside them are not
/// read as code. The string of a `#[path = "..."]` attribute is kept.
pub(crate) fn strip(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        let prev_ident = out.chars().last().is_some_and(is_ident);
        if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if !prev_ident
            && (c == 'r' || (c == 'b' && at(i + 1) == 'r'))
            && raw_start(&chars, i)
        {
            // r"..", r#".."#, br"..": no escapes, ends at `"` and as many `#`.
            let mut j = i + if c == 'b' { 2 } else { 1 };
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            j += 1;
            while j < chars.len() {
                if chars[j] == '"' && (1..=hashes).all(|k| at(j + k) == '#') {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            let keep = in_path_attribute(&out);
            let mut j = i + 1;
            let mut content = String::new();
            while j < chars.len() && chars[j] != '"' {
                if chars[j] == '\\' {
                    j += 1;
                }
                if let Some(&ch) = chars.get(j) {
                    content.push(ch);
                }
                j += 1;
            }
            out.push('"');
            if keep {
                out.push_str(&content);
            }
            out.push('"');
            i = j + 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\''), else a lifetime ('a).
            if at(i + 1) == '\\' {
                let mut j = i + 2;
                while j < chars.len() && chars[j] != '\'' {
                    j += 1;
                }
                out.push_str("' '");
                i = j + 1;
            } else if at(i + 2) == '\'' {
                out.push_str("' '");
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Whether a raw string starts at `i` (`r"`, `r#`, `br"`, `br#`).
fn raw_start(chars: &[char], i: usize) -> bool {
    let j = if chars[i] == 'b' { i + 2 } else { i + 1 };
    let mut k = j;
    while chars.get(k) == Some(&'#') {
        k += 1;
    }
    chars.get(k) == Some(&'"') && (k > j || chars.get(j) == Some(&'"'))
}

/// Whether the code so far ends with `#[path =`.
fn in_path_attribute(out: &str) -> bool {
    let Some(before) = out.trim_end().strip_suffix('=') else {
        return false;
    };
    let Some(before) = before.trim_end().strip_suffix("path") else {
        return false;
    };
    before.trim_end().ends_with("#[")
}

/// `code` (already [`strip`]ped) without the items marked `#[cfg(test)]`,
/// their other attributes included: a `mod tests { .. }`, a `#[path = ..]
/// mod tests;`, a test-only `use` or `impl`.
pub(crate) fn without_test_items(code: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = code.to_owned();
    while let Some(at) = out.find(MARK) {
        let start = attributes_before(&out, at);
        let mut end = at + MARK.len();
        loop {
            let rest = &out[end..];
            let trimmed = rest.trim_start();
            end += rest.len() - trimmed.len();
            if trimmed.starts_with("#[") {
                end = matching(&out, end + 1, '[', ']').map_or(out.len(), |e| e + 1);
            } else {
                break;
            }
        }
        let brace = out[end..].find('{').map(|i| i + end);
        let semi = out[end..].find(';').map(|i| i + end);
        end = match (brace, semi) {
            (Some(b), Some(s)) if s < b => s + 1,
            (Some(b), _) => matching(&out, b, '{', '}').map_or(out.len(), |e| e + 1),
            (None, Some(s)) => s + 1,
            (None, None) => out.len(),
        };
        out.replace_range(start..end, "");
    }
    out
}

/// Where the run of attributes that ends just before `at` starts.
fn attributes_before(code: &str, at: usize) -> usize {
    let mut start = at;
    loop {
        let before = code[..start].trim_end();
        if !before.ends_with(']') {
            return start;
        }
        match open_bracket(before) {
            Some(open) if code[..open].ends_with('#') => start = open - 1,
            _ => return start,
        }
    }
}

/// The `[` matching the `]` that ends `text`.
fn open_bracket(text: &str) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in text.char_indices().rev() {
        match c {
            ']' => depth += 1,
            '[' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The index of the `close` matching the `open` at `from`.
pub(crate) fn matching(code: &str, from: usize, open: char, close: char) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in code[from..].char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(from + i);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_literals_are_not_code() {
        let text = r##"
use crate::a; // use crate::b;
/* crate::c /* nested crate::d */ */
let s = "crate::e { ;";
let r = r#"crate::f "quoted" }"#;
let c = '"'; let q = '\''; fn f<'a>(x: &'a str) {}
#[path = "x_tests.rs"]
"##;
        let code = strip(text);
        assert!(code.contains("crate::a"));
        for gone in ["crate::b", "crate::c", "crate::d", "crate::e", "crate::f"] {
            assert!(!code.contains(gone), "{gone} in {code}");
        }
        assert!(code.contains("fn f<'a>(x: &'a str) {}"), "{code}");
        assert!(code.contains("#[path = \"x_tests.rs\"]"), "{code}");
    }

    #[test]
    fn test_items_go_with_their_attributes() {
        let code = "use crate::a;\n#[cfg(test)]\n#[path = \"t.rs\"]\nmod tests;\n\
                    #[cfg(test)]\nmod more { use crate::b; fn x() { {} } }\n\
                    #[cfg(any(test, feature = \"f\"))]\nuse crate::c;\nfn after() {}\n";
        let kept = without_test_items(code);
        assert!(
            kept.contains("crate::a") && kept.contains("crate::c"),
            "{kept}"
        );
        assert!(
            !kept.contains("crate::b") && !kept.contains("t.rs"),
            "{kept}"
        );
        assert!(kept.contains("fn after() {}"), "{kept}");
    }
}

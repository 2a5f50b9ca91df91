//! Paths as written: a use tree (`a::{b, c::d as e, self}`) or a path in an
//! expression (`a::b::f(..)`), made absolute from where they start.

use crate::source::is_ident;

/// A module or item path from the crate root: `["engine", "run", "Engine"]`.
pub(crate) type Path = Vec<String>;

/// One path a use tree names, and the name it brings into scope (`None`
/// for a glob, `_`, or a path in an expression).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Named {
    pub(crate) path: Path,
    pub(crate) local: Option<String>,
}

/// The paths of the use tree at the start of `text`, read from module
/// `base`: a leading `crate` starts at the root, `super` steps out of
/// `base`, `self` stays; any other first name is taken inside `base`.
pub(crate) fn use_tree(base: &[String], text: &str, out: &mut Vec<Named>) {
    let mut path: Path = base.to_vec();
    let mut s = text.trim_start();
    // Whether only `crate`, `super` and `self` have been read so far.
    let mut leading = true;
    loop {
        let ident: String = s.chars().take_while(|&c| is_ident(c)).collect();
        if ident.is_empty() {
            if let Some(inner) = s.strip_prefix('{') {
                for item in group_items(inner) {
                    if item == "self" {
                        let local = path.last().cloned();
                        out.push(Named {
                            path: path.clone(),
                            local,
                        });
                    } else {
                        use_tree(&path, item, out);
                    }
                }
                return;
            }
            // `*` or the end of the path.
            out.push(Named { path, local: None });
            return;
        }
        s = &s[ident.len()..];
        match ident.as_str() {
            "crate" if leading => path.clear(),
            "super" if leading => {
                path.pop();
            }
            "self" if leading => {}
            _ => {
                path.push(ident.clone());
                leading = false;
            }
        }
        let rest = s.trim_start();
        match rest.strip_prefix("::") {
            Some(r) => s = r.trim_start(),
            None => {
                let local = match rest.strip_prefix("as") {
                    Some(r) if r.starts_with(|c: char| c.is_whitespace()) => {
                        let name: String = r
                            .trim_start()
                            .chars()
                            .take_while(|&c| is_ident(c))
                            .collect();
                        (name != "_").then_some(name)
                    }
                    _ => Some(ident),
                };
                out.push(Named { path, local });
                return;
            }
        }
    }
}

/// The comma-separated items of a `{ .. }` group whose text starts after
/// the `{`, nested groups kept whole.
fn group_items(inner: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(inner[start..i].trim());
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    items.retain(|i| !i.is_empty());
    items
}

/// Every `use` statement of `code`: the text after `use`, up to its `;`.
pub(crate) fn use_statements(code: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("use") {
        let before = code[..i].chars().last();
        let after = code[i + 3..].chars().next();
        if before.is_some_and(|c| is_ident(c) || c == ':')
            || !after.is_some_and(char::is_whitespace)
        {
            continue;
        }
        if let Some(end) = code[i..].find(';') {
            out.push(code[i + 3..i + end].trim());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(base: &[&str], text: &str) -> Vec<(String, Option<String>)> {
        let base: Path = base.iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        use_tree(&base, text, &mut out);
        out.into_iter()
            .map(|n| (n.path.join("::"), n.local))
            .collect()
    }

    #[test]
    fn use_trees_name_each_path_and_its_local_name() {
        assert_eq!(
            tree(&[], "a::{b, c::{d as e, self}, f::*}"),
            [
                ("a::b".to_owned(), Some("b".to_owned())),
                ("a::c::d".to_owned(), Some("e".to_owned())),
                ("a::c".to_owned(), Some("c".to_owned())),
                ("a::f".to_owned(), None),
            ]
        );
        assert_eq!(
            tree(&["x", "y"], "crate::a::B"),
            [("a::B".to_owned(), Some("B".to_owned()))]
        );
        assert_eq!(
            tree(&["x", "y"], "super::super::z::W as _"),
            [("z::W".to_owned(), None)]
        );
        assert_eq!(
            tree(&["x"], "self::g(1, 2)"),
            [("x::g".to_owned(), Some("g".to_owned()))]
        );
    }

    #[test]
    fn use_statements_are_found_by_their_keyword() {
        let code = "pub use a::b;\nfn f() { use c::{d, e}; }\nlet user = 1; reuse::x;";
        assert_eq!(use_statements(code), ["a::b", "c::{d, e}"]);
    }
}

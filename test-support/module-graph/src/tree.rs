//! A crate's modules, found by following its `mod` declarations from its
//! root file, each with its own code (test-only items left out).

use std::collections::BTreeSet;
use std::path::{Path as FsPath, PathBuf};

use crate::paths::Path;
use crate::source::{is_ident, matching, strip, without_test_items};

/// One module: where it is in the crate, its code (without the bodies of
/// its inline child modules), and its children's names.
#[derive(Debug, Clone)]
pub(crate) struct Module {
    pub(crate) path: Path,
    pub(crate) code: String,
    pub(crate) children: BTreeSet<String>,
}

/// Reads files for the tree; `None` when a file does not exist.
pub(crate) type Reader<'a> = &'a dyn Fn(&FsPath) -> Option<String>;

/// Every module of the crate whose root file is `root`, and the files that
/// `mod` declarations name but that do not exist.
pub(crate) fn read_tree(root: &FsPath, read: Reader<'_>) -> (Vec<Module>, Vec<PathBuf>) {
    let mut modules = Vec::new();
    let mut missing = Vec::new();
    let dir = root.parent().map(FsPath::to_path_buf).unwrap_or_default();
    match read(root) {
        Some(text) => visit(
            prepare(&text),
            Vec::new(),
            &Dirs {
                file: dir.clone(),
                children: dir,
            },
            read,
            &mut modules,
            &mut missing,
        ),
        None => missing.push(root.to_path_buf()),
    }
    (modules, missing)
}

/// Where a module's file is, and where its children's files are.
struct Dirs {
    file: PathBuf,
    children: PathBuf,
}

fn prepare(text: &str) -> String {
    without_test_items(&strip(text))
}

fn visit(
    mut code: String,
    path: Path,
    dirs: &Dirs,
    read: Reader<'_>,
    modules: &mut Vec<Module>,
    missing: &mut Vec<PathBuf>,
) {
    let mut children = BTreeSet::new();
    let mut from = 0;
    while let Some(found) = next_mod(&code, from) {
        let mut child = path.clone();
        child.push(found.name.clone());
        children.insert(found.name.clone());
        match found.body {
            Some((open, close)) => {
                let body = code[open + 1..close].to_owned();
                code.replace_range(open + 1..close, "");
                from = open + 2;
                let dirs = Dirs {
                    file: dirs.file.clone(),
                    children: dirs.children.join(&found.name),
                };
                visit(body, child, &dirs, read, modules, missing);
            }
            None => {
                from = found.end;
                let candidates = match &found.path_attr {
                    Some(p) => vec![dirs.file.join(p)],
                    None => vec![
                        dirs.children.join(format!("{}.rs", found.name)),
                        dirs.children.join(&found.name).join("mod.rs"),
                    ],
                };
                let Some((file, text)) = candidates
                    .iter()
                    .find_map(|f| read(f).map(|t| (f.clone(), t)))
                else {
                    missing.push(candidates[0].clone());
                    continue;
                };
                let file_dir = file.parent().map(FsPath::to_path_buf).unwrap_or_default();
                let children_dir = if file.file_name().is_some_and(|n| n == "mod.rs") {
                    file_dir.clone()
                } else {
                    file_dir.join(file.file_stem().unwrap_or_default())
                };
                let dirs = Dirs {
                    file: file_dir,
                    children: children_dir,
                };
                visit(prepare(&text), child, &dirs, read, modules, missing);
            }
        }
    }
    modules.push(Module {
        path,
        code,
        children,
    });
}

/// A `mod NAME;` or `mod NAME { .. }` declaration.
struct ModDecl {
    name: String,
    /// The `{` and `}` of an inline module.
    body: Option<(usize, usize)>,
    /// Where the declaration ends.
    end: usize,
    /// The file a `#[path = ".."]` attribute names.
    path_attr: Option<String>,
}

/// The first `mod` declaration at or after `from`.
fn next_mod(code: &str, from: usize) -> Option<ModDecl> {
    let mut search = from;
    loop {
        let i = code[search..].find("mod")? + search;
        search = i + 3;
        let before = code[..i].chars().last();
        let rest = &code[i + 3..];
        if before.is_some_and(|c| is_ident(c) || c == ':') || !rest.starts_with(char::is_whitespace)
        {
            continue;
        }
        let after_kw = rest.trim_start();
        let name: String = after_kw.chars().take_while(|&c| is_ident(c)).collect();
        if name.is_empty() {
            continue;
        }
        let name_end = i + 3 + (rest.len() - after_kw.len()) + name.len();
        let tail = code[name_end..].trim_start();
        let at = name_end + (code.len() - name_end - tail.len());
        let path_attr = path_attribute(&code[..i]);
        if tail.starts_with(';') {
            return Some(ModDecl {
                name,
                body: None,
                end: at + 1,
                path_attr,
            });
        }
        if tail.starts_with('{') {
            let close = matching(code, at, '{', '}')?;
            return Some(ModDecl {
                name,
                body: Some((at, close)),
                end: close + 1,
                path_attr,
            });
        }
    }
}

/// The file named by a `#[path = ".."]` among the attributes (and the
/// visibility) just before a declaration that starts after `before`.
fn path_attribute(before: &str) -> Option<String> {
    let mut text = before.trim_end();
    // Visibility: `pub`, `pub(crate)`, `pub(super)`, `pub(in path)`.
    if let Some(open) = text.strip_suffix(')').and_then(|t| t.rfind("pub(")) {
        text = text[..open].trim_end();
    } else if let Some(t) = text.strip_suffix("pub") {
        text = t.trim_end();
    }
    while let Some(t) = text.strip_suffix(']') {
        let open = t.rfind("#[")?;
        let attr = &t[open + 2..];
        if let Some(value) = attr.trim().strip_prefix("path") {
            let value = value.trim_start().strip_prefix('=')?.trim();
            return Some(value.trim_matches('"').to_owned());
        }
        text = t[..open].trim_end();
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn tree(files: &[(&str, &str)]) -> (BTreeMap<String, Module>, Vec<PathBuf>) {
        let files: BTreeMap<PathBuf, String> = files
            .iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect();
        let read = |p: &FsPath| files.get(p).cloned();
        let (modules, missing) = read_tree(FsPath::new("src/lib.rs"), &read);
        let by_name = modules
            .into_iter()
            .map(|m| (m.path.join("::"), m))
            .collect();
        (by_name, missing)
    }

    #[test]
    fn mod_declarations_lead_to_files_and_inline_bodies() {
        let (m, missing) = tree(&[
            (
                "src/lib.rs",
                "pub mod a;\nmod b;\npub(crate) mod c { mod d { fn x() {} } }\n#[path = \"other.rs\"]\nmod e;\n#[cfg(test)]\nmod tests;\nmod gone;",
            ),
            ("src/a/mod.rs", "mod inner;"),
            ("src/a/inner.rs", "use crate::b::X;"),
            ("src/b.rs", "pub struct X;"),
            ("src/other.rs", ""),
        ]);
        let names: Vec<&str> = m.keys().map(String::as_str).collect();
        assert_eq!(names, ["", "a", "a::inner", "b", "c", "c::d", "e"]);
        assert_eq!(missing, [PathBuf::from("src/gone.rs")]);
        assert!(m["a::inner"].code.contains("crate::b::X"));
        assert!(!m["c"].code.contains("fn x"), "{}", m["c"].code);
        assert!(m["c::d"].code.contains("fn x"));
        let root: Vec<&str> = m[""].children.iter().map(String::as_str).collect();
        assert_eq!(root, ["a", "b", "c", "e", "gone"]);
    }
}

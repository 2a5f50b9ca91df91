//! No module of pikaci-store imports a module that imports it back.
//!
//! A small reader of this crate's own sources: every `crate::`, `super::` and
//! `self::` path outside comments and test modules is an edge to the deepest
//! module it names. A module declaring and re-exporting its children is not an
//! import, so edges from a module into its own descendants are left out. The
//! rest must form no cycle.

use std::collections::{BTreeMap, BTreeSet};

use camino::{Utf8Path, Utf8PathBuf};

type Module = Vec<String>;

fn name(m: &Module) -> String {
    if m.is_empty() {
        "crate".to_owned()
    } else {
        m.join("::")
    }
}

/// Every module file under `src`, with its text up to its test module.
fn modules(src: &Utf8Path) -> BTreeMap<Module, String> {
    let mut out = BTreeMap::new();
    let mut stack: Vec<Utf8PathBuf> = vec![src.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in dir.read_dir_utf8().expect("read src") {
            let path = entry.expect("entry").path().to_owned();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension() != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let mut module: Module = rel
                .parent()
                .map(|p| p.iter().map(str::to_owned).collect())
                .unwrap_or_default();
            match rel.file_stem().expect("stem") {
                "lib" | "mod" => {}
                stem => module.push(stem.to_owned()),
            }
            let text = std::fs::read_to_string(&path).expect("read module");
            let code = text.split("#[cfg(test)]").next().unwrap_or("");
            let code: String = code
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            out.insert(module, code);
        }
    }
    out
}

/// The module paths a use tree starting at `rest` names, relative to `base`.
fn paths(base: &Module, rest: &str, out: &mut Vec<Module>) {
    let mut segs = base.clone();
    let mut s = rest;
    loop {
        let ident: String = s
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() {
            if let Some(inner) = s.strip_prefix('{') {
                let mut depth = 0;
                let mut start = 0;
                for (i, c) in inner.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            paths(&segs, inner[start..i].trim_start(), out);
                            return;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            paths(&segs, inner[start..i].trim_start(), out);
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
            }
            break;
        }
        segs.push(ident.clone());
        s = &s[ident.len()..];
        match s.strip_prefix("::") {
            Some(r) => s = r,
            None => break,
        }
    }
    out.push(segs);
}

/// Edges of the import graph: module → modules it imports.
fn graph(mods: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, code) in mods {
        let is_dir_module = |m: &Module| mods.contains_key(m);
        let mut named = Vec::new();
        for (key, base) in [
            ("crate::", Vec::new()),
            ("super::", module[..module.len().saturating_sub(1)].to_vec()),
            ("self::", module.clone()),
        ] {
            for (i, _) in code.match_indices(key) {
                let before = code[..i].chars().last();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                    continue;
                }
                paths(&base, &code[i + key.len()..], &mut named);
            }
        }
        for path in named {
            // The deepest module the path names.
            let mut target = path;
            while !is_dir_module(&target) {
                target.pop();
            }
            let into_own_child = target.len() > module.len() && target.starts_with(module);
            if &target != module && !into_own_child {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    edges
}

fn find_cycle(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn visit(
        m: &Module,
        edges: &BTreeMap<Module, BTreeSet<Module>>,
        path: &mut Vec<Module>,
        done: &mut BTreeSet<Module>,
    ) -> Option<Vec<Module>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            let mut cycle = path[at..].to_vec();
            cycle.push(m.clone());
            return Some(cycle);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.clone());
        for next in edges.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.clone());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|m| visit(m, edges, &mut Vec::new(), &mut done))
}

fn module(s: &str) -> Module {
    s.split("::").map(str::to_owned).collect()
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let src = Utf8Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mods = modules(&src);
    let edges = graph(&mods);
    // The reader sees the layering it guards (so the test is not vacuous).
    for (from, to) in [
        ("read::follow", "read::job_log"),
        ("read::job_log", "read::job_dir"),
        ("read::job_dir", "read::run_dir"),
        ("read::run_dir", "store"),
        ("write", "store"),
    ] {
        assert!(
            edges
                .get(&module(from))
                .is_some_and(|e| e.contains(&module(to))),
            "expected {from} to import {to}; edges: {edges:#?}"
        );
    }
    // Reading and writing build on the store, never the other way round.
    for m in ["store", "write"] {
        for e in edges.get(&module(m)).into_iter().flatten() {
            assert!(
                e.first().map(String::as_str) != Some("read"),
                "{m} imports {}",
                name(e)
            );
        }
    }
    if let Some(cycle) = find_cycle(&edges) {
        let cycle: Vec<String> = cycle.iter().map(name).collect();
        panic!("import cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_reader_finds_a_cycle_when_there_is_one() {
    let mut mods = BTreeMap::new();
    mods.insert(Vec::new(), "mod a; mod b;".to_owned());
    mods.insert(module("a"), "use crate::b::{X, y::Z};".to_owned());
    mods.insert(module("b"), "pub use super::a::W;".to_owned());
    mods.insert(module("b::y"), String::new());
    let edges = graph(&mods);
    assert_eq!(
        edges.get(&module("a")),
        Some(&[module("b"), module("b::y")].into_iter().collect())
    );
    let cycle = find_cycle(&edges).expect("a cycle");
    assert_eq!(cycle.first(), cycle.last());
}

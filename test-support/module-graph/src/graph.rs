//! [`Graph`]: the modules of one crate and which import which.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path as FsPath, PathBuf};

use crate::paths::{Named, Path, use_statements, use_tree};
use crate::source::is_ident;
use crate::tree::{Module, read_tree};

/// How many re-exports a path is followed through, at most.
const MAX_HOPS: usize = 16;

/// The import graph of one crate (one root file and the modules it
/// declares). Modules are named as paths from the root: `crate`,
/// `engine`, `engine::run`.
#[derive(Debug, Clone)]
pub struct Graph {
    modules: BTreeSet<Path>,
    edges: BTreeMap<Path, BTreeSet<Path>>,
    missing: Vec<PathBuf>,
}

impl Graph {
    /// Reads the crate whose root file is `root` from the disk.
    pub fn read(root: &FsPath) -> Self {
        Self::build(root, &|p: &FsPath| std::fs::read_to_string(p).ok())
    }

    /// A crate from `(file, text)` pairs, the root being `lib.rs`.
    pub fn from_sources<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let files: BTreeMap<PathBuf, String> = files
            .into_iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_owned()))
            .collect();
        Self::build(FsPath::new("lib.rs"), &|p: &FsPath| files.get(p).cloned())
    }

    fn build(root: &FsPath, read: &dyn Fn(&FsPath) -> Option<String>) -> Self {
        let (modules, missing) = read_tree(root, read);
        let by_path: BTreeMap<Path, &Module> =
            modules.iter().map(|m| (m.path.clone(), m)).collect();
        let aliases: BTreeMap<Path, BTreeMap<String, Path>> = modules
            .iter()
            .map(|m| (m.path.clone(), aliases_of(m)))
            .collect();
        let resolver = Resolver {
            modules: &by_path,
            aliases: &aliases,
        };
        let mut edges: BTreeMap<Path, BTreeSet<Path>> = BTreeMap::new();
        for m in &modules {
            for named in paths_named(m) {
                let target = resolver.resolve(&named.path, 0);
                // A module declaring, re-exporting or calling into its own
                // children is their owner, not their peer: only the other
                // direction is an import.
                let own_child = target.len() > m.path.len() && target.starts_with(&m.path);
                if target != m.path && !own_child {
                    edges.entry(m.path.clone()).or_default().insert(target);
                }
            }
        }
        Self {
            modules: by_path.into_keys().collect(),
            edges,
            missing,
        }
    }

    /// Every module, by name.
    pub fn modules(&self) -> Vec<String> {
        self.modules.iter().map(name).collect()
    }

    /// Files that `mod` declarations name but that were not found.
    pub fn missing_files(&self) -> &[PathBuf] {
        &self.missing
    }

    /// The modules `from` imports, by name.
    pub fn imports_of(&self, from: &str) -> Vec<String> {
        self.edges
            .get(&parse(from))
            .into_iter()
            .flatten()
            .map(name)
            .collect()
    }

    /// Whether module `from` imports module `to` (`"crate"` for the root).
    pub fn imports(&self, from: &str, to: &str) -> bool {
        self.edges
            .get(&parse(from))
            .is_some_and(|e| e.contains(&parse(to)))
    }

    /// Each group of modules that import each other (directly or through
    /// others), as module names; empty when there is no cycle.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        strongly_connected(&self.modules, &self.edges)
            .into_iter()
            .filter(|group| group.len() > 1)
            .map(|group| group.iter().map(name).collect())
            .collect()
    }
}

/// `crate` for the root, else `a::b`.
fn name(m: &Path) -> String {
    if m.is_empty() {
        "crate".to_owned()
    } else {
        m.join("::")
    }
}

fn parse(name: &str) -> Path {
    if name == "crate" {
        Vec::new()
    } else {
        name.split("::").map(str::to_owned).collect()
    }
}

/// The names a module's `use` statements bring into scope, with the paths
/// they stand for (external crates left out).
fn aliases_of(m: &Module) -> BTreeMap<String, Path> {
    let mut out = BTreeMap::new();
    for statement in use_statements(&m.code) {
        if !starts_inside(m, statement) {
            continue;
        }
        let mut named = Vec::new();
        use_tree(&m.path, statement, &mut named);
        for Named { path, local } in named {
            if let Some(local) = local {
                out.insert(local, path);
            }
        }
    }
    out
}

/// Whether a path written in `m` starts inside the crate: at `crate`,
/// `super`, `self` or one of `m`'s child modules.
fn starts_inside(m: &Module, text: &str) -> bool {
    let first: String = text.chars().take_while(|&c| is_ident(c)).collect();
    matches!(first.as_str(), "crate" | "super" | "self") || m.children.contains(&first)
}

/// Every crate-internal path `m`'s code names, in a `use` or elsewhere.
fn paths_named(m: &Module) -> Vec<Named> {
    let code = &m.code;
    let mut out = Vec::new();
    let starts = ["crate", "super", "self"]
        .into_iter()
        .map(str::to_owned)
        .chain(m.children.iter().cloned());
    for start in starts {
        let key = format!("{start}::");
        for (i, _) in code.match_indices(&key) {
            let before = code[..i].chars().last();
            if before.is_some_and(|c| is_ident(c) || c == ':' || c == '$') {
                continue;
            }
            use_tree(&m.path, &code[i..], &mut out);
        }
    }
    out
}

struct Resolver<'a> {
    modules: &'a BTreeMap<Path, &'a Module>,
    aliases: &'a BTreeMap<Path, BTreeMap<String, Path>>,
}

impl Resolver<'_> {
    /// The module a path leads to: as deep as its names are modules, through
    /// any re-export (`use`) met on the way to the item that defines it.
    fn resolve(&self, path: &[String], hops: usize) -> Path {
        let mut at: Path = Vec::new();
        for (i, seg) in path.iter().enumerate() {
            let mut next = at.clone();
            next.push(seg.clone());
            if self.modules.contains_key(&next) {
                at = next;
                continue;
            }
            if hops < MAX_HOPS
                && let Some(target) = self.aliases.get(&at).and_then(|a| a.get(seg))
                && target.as_slice() != &path[..=i]
            {
                let mut via = target.clone();
                via.extend_from_slice(&path[i + 1..]);
                return self.resolve(&via, hops + 1);
            }
            break;
        }
        at
    }
}

/// Tarjan's strongly connected components.
fn strongly_connected(
    nodes: &BTreeSet<Path>,
    edges: &BTreeMap<Path, BTreeSet<Path>>,
) -> Vec<Vec<Path>> {
    struct State<'a> {
        edges: &'a BTreeMap<Path, BTreeSet<Path>>,
        index: BTreeMap<&'a Path, usize>,
        low: BTreeMap<&'a Path, usize>,
        stack: Vec<&'a Path>,
        on_stack: BTreeSet<&'a Path>,
        groups: Vec<Vec<Path>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Path) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                group.push(w.clone());
                if w == v {
                    break;
                }
            }
            group.sort();
            s.groups.push(group);
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        groups: Vec::new(),
    };
    for v in nodes.iter().chain(edges.values().flatten()) {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_that_imports_one_that_imports_it_back_is_a_cycle() {
        let g = Graph::from_sources([
            ("lib.rs", "mod a; mod b; mod c;"),
            ("a.rs", "use crate::b::{X, y::Z};"),
            ("b.rs", "pub mod y; pub struct X; fn f() { super::c::g(); }"),
            ("b/y.rs", "pub struct Z;"),
            ("c.rs", "pub fn g() { crate::a::h() }"),
        ]);
        assert!(g.imports("a", "b") && g.imports("a", "b::y"));
        assert_eq!(g.cycles(), [["a", "b", "c"]]);
    }

    #[test]
    fn re_exports_lead_to_the_module_that_defines_the_item() {
        let g = Graph::from_sources([
            (
                "lib.rs",
                "mod engine; pub use engine::{Engine, run::Other as Renamed};",
            ),
            (
                "engine/mod.rs",
                "mod run; mod observer; pub use run::Engine;\npub use self::observer::Observer;",
            ),
            (
                "engine/run.rs",
                "use super::Observer; pub struct Engine; pub struct Other;",
            ),
            (
                "engine/observer.rs",
                "use crate::Renamed; pub struct Observer;",
            ),
        ]);
        assert!(g.imports("engine::run", "engine::observer"));
        assert!(g.imports("engine::observer", "engine::run"));
        // run and observer import each other: through re-exports, still a cycle.
        assert_eq!(g.cycles(), [["engine::observer", "engine::run"]]);
        assert!(!g.imports("engine::run", "engine"));
    }

    #[test]
    fn a_parent_owns_its_children_and_does_not_import_them() {
        let g = Graph::from_sources([
            ("lib.rs", "mod x; pub use x::A; pub fn helper() { x::f() }"),
            ("x.rs", "pub struct A; pub fn f() { crate::helper() }"),
        ]);
        assert!(g.imports("x", "crate"));
        assert!(!g.imports("crate", "x"));
        assert!(g.cycles().is_empty());
    }

    #[test]
    fn tests_and_strings_are_not_imports() {
        let g = Graph::from_sources([
            ("lib.rs", "mod a; mod b;"),
            ("a.rs", "pub fn f() { crate::b::g() }"),
            (
                "b.rs",
                "pub fn g() { let _ = \"crate::a::f\"; }\n#[cfg(test)]\nmod tests { use crate::a::f; }",
            ),
        ]);
        assert!(g.cycles().is_empty());
        assert_eq!(g.imports_of("b"), Vec::<String>::new());
        assert!(g.missing_files().is_empty());
    }
}

//! Finding the crates to read: the members of a workspace and the root
//! files of each (its library, binaries, tests, benches and examples).

use std::path::{Path, PathBuf};

use crate::graph::Graph;

/// The package folders of the workspace whose `Cargo.toml` is in `root`
/// (its `members`, as written: no globs).
pub fn workspace_packages(root: &Path) -> Result<Vec<PathBuf>, String> {
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| format!("reading {}: {e}", manifest.display()))?;
    let doc: toml::Table = text
        .parse()
        .map_err(|e| format!("parsing {}: {e}", manifest.display()))?;
    let members = doc
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .ok_or_else(|| format!("{} has no workspace members", manifest.display()))?;
    Ok(members
        .iter()
        .filter_map(|m| m.as_str())
        .map(|m| root.join(m))
        .collect())
}

/// The root files of the crates a package builds, where Cargo looks for
/// them: `src/lib.rs`, `src/main.rs`, `src/bin/*`, `tests/*`, `benches/*`
/// and `examples/*` (a file, or a folder's `main.rs`).
pub fn crate_roots(package: &Path) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = ["src/lib.rs", "src/main.rs"]
        .iter()
        .map(|f| package.join(f))
        .filter(|f| f.is_file())
        .collect();
    for dir in ["src/bin", "tests", "benches", "examples"] {
        let Ok(entries) = std::fs::read_dir(package.join(dir)) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| {
                if p.is_dir() {
                    Some(p.join("main.rs")).filter(|m| m.is_file())
                } else {
                    (p.extension().is_some_and(|e| e == "rs")).then_some(p)
                }
            })
            .collect();
        found.sort();
        roots.extend(found);
    }
    roots
}

/// What is wrong with the import graphs of `package`'s crates: each group
/// of modules that import each other (directly or through others), and each
/// file a `mod` names that is not there (it would hide a module from the
/// check). Also returns how many modules were read.
pub fn import_problems(package: &Path) -> (usize, Vec<String>) {
    let mut problems = Vec::new();
    let mut read = 0;
    for root in crate_roots(package) {
        let graph = Graph::read(&root);
        read += graph.modules().len();
        for cycle in graph.cycles() {
            let imports: Vec<String> = cycle
                .iter()
                .flat_map(|from| {
                    graph
                        .imports_of(from)
                        .into_iter()
                        .filter(|to| cycle.contains(to))
                        .map(move |to| format!("{from} -> {to}"))
                })
                .collect();
            problems.push(format!(
                "{}: modules that import each other: {}",
                root.display(),
                imports.join(", ")
            ));
        }
        for file in graph.missing_files() {
            problems.push(format!(
                "{}: a `mod` names {}, which was not found",
                root.display(),
                file.display()
            ));
        }
    }
    (read, problems)
}

//! No module of any crate of this workspace imports a module that imports
//! it back: every member's library, binaries, tests, benches and examples.

use std::path::Path;

use module_graph::{Graph, import_problems, workspace_packages};

fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[test]
fn no_module_of_the_workspace_imports_one_that_imports_it_back() {
    let packages = workspace_packages(workspace_root()).unwrap();
    assert!(packages.len() >= 5, "{packages:?}");
    let mut problems = Vec::new();
    for package in &packages {
        let (read, found) = import_problems(package);
        assert!(read > 0, "no module read in {}", package.display());
        problems.extend(found);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The reader sees the layering it guards, so the check is not vacuous
/// (the store's own test holds its layers).
#[test]
fn the_reader_sees_the_engines_layers() {
    let core = Graph::read(&workspace_root().join("pikaci-core/src/lib.rs"));
    for (from, to) in [
        ("engine::run", "engine::schedule"),
        ("process::capped", "process::log_cap"),
        ("log_times", "clock"),
        ("section", "pipeline::error"),
    ] {
        assert!(
            core.imports(from, to),
            "{from} -> {to}: {:?}",
            core.imports_of(from)
        );
    }
    assert!(core.modules().len() > 30, "{:?}", core.modules());
}

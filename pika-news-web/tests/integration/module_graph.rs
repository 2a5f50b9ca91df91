//! pika-news-web's layering, read from its sources by the workspace's
//! module graph reader: `api` (the JSON handlers) and `pages` (the HTML
//! pages) never import each other; what both need sits beside them, in
//! leaves that import neither (`routes` alone imports both: it lists their
//! handlers).

use module_graph::Graph;

fn graph() -> Graph {
    Graph::read(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/lib.rs"
    )))
}

/// Module (or module tree) `from` must not import module (or tree) `to`.
const FORBIDDEN: &[(&str, &str)] = &[
    ("api", "pages"),
    ("pages", "api"),
    ("links", "api"),
    ("links", "pages"),
    ("query", "api"),
    ("query", "pages"),
    ("session", "api"),
    ("session", "pages"),
    ("auth", "api"),
    ("auth", "pages"),
    ("rows", "api"),
    ("rows", "pages"),
];

/// Whether `module` is `tree` or inside it.
fn within(module: &str, tree: &str) -> bool {
    module == tree
        || module
            .strip_prefix(tree)
            .is_some_and(|rest| rest.starts_with("::"))
}

#[test]
fn api_and_pages_never_import_each_other() {
    let graph = graph();
    let mut found = Vec::new();
    for module in graph.modules() {
        for to in graph.imports_of(&module) {
            let forbidden = FORBIDDEN
                .iter()
                .any(|(f, t)| within(&module, f) && within(&to, t));
            if forbidden {
                found.push(format!("{module} -> {to}"));
            }
        }
    }
    assert!(found.is_empty(), "forbidden imports:\n{}", found.join("\n"));
    assert_eq!(graph.cycles(), Vec::<Vec<String>>::new());
}

/// The reader sees the edges the rule is about, so the check is not vacuous.
#[test]
fn the_reader_sees_the_layers() {
    let graph = graph();
    for (from, to) in [
        ("routes", "pages"),
        ("routes", "api::raw"),
        ("pages::lane", "links"),
        ("pages::lane", "session"),
        ("api::lane_runs", "session"),
        ("api::pikaci", "links"),
    ] {
        assert!(
            graph.imports(from, to),
            "expected {from} to import {to}; it imports {:?}",
            graph.imports_of(from)
        );
    }
}

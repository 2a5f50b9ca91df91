//! pika-news-web's layering, read from its sources by the workspace's module
//! graph reader: the read model builds on the store and the database's
//! types, never on the HTTP layer or the server's state; the state builds on
//! the read model, never on the handlers or the pages. A rule is one line of
//! [`FORBIDDEN`].

use module_graph::Graph;

/// `(from, to)`: no module at or under `from` imports one at or under `to`.
const FORBIDDEN: &[(&str, &str)] = &[
    ("reads", "api"),
    ("reads", "pages"),
    ("reads", "auth"),
    ("reads", "state"),
    ("reads", "live"),
    ("state", "api"),
    ("state", "pages"),
    ("error", "api"),
];

fn graph() -> Graph {
    Graph::read(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/lib.rs"
    )))
}

/// Whether `module` is `top` or one of its descendants.
fn within(module: &str, top: &str) -> bool {
    module == top
        || module
            .strip_prefix(top)
            .is_some_and(|rest| rest.starts_with("::"))
}

/// The imports that break a rule, as `from -> to`.
fn broken(graph: &Graph, rules: &[(&str, &str)]) -> Vec<String> {
    let mut out = Vec::new();
    for &(from, to) in rules {
        for module in graph.modules().iter().filter(|m| within(m, from)) {
            for import in graph.imports_of(module) {
                if within(&import, to) {
                    out.push(format!(
                        "{module} -> {import} (rule: {from} must not import {to})"
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn the_read_model_and_the_state_stay_below_the_http_layer() {
    let graph = graph();
    assert!(
        graph.missing_files().is_empty(),
        "modules without a file: {:?}",
        graph.missing_files()
    );
    for (from, _) in FORBIDDEN {
        assert!(
            graph.modules().iter().any(|m| m == from),
            "no module {from}: the rule names a module that is gone"
        );
    }
    assert_eq!(broken(&graph, FORBIDDEN), Vec::<String>::new());
    // The handlers do go through the read model (a rule that holds only
    // because nothing is read would prove nothing).
    for handler in [
        "api::raw",
        "api::pikaci",
        "api::stream",
        "pages::log_source",
    ] {
        assert!(
            graph.imports_of(handler).iter().any(|m| within(m, "reads")),
            "{handler} imports {:?}",
            graph.imports_of(handler)
        );
    }
}

#[test]
fn a_broken_rule_is_named() {
    let graph = Graph::from_sources([
        ("lib.rs", "mod api;\nmod reads;\n"),
        ("api.rs", "pub fn handler() {}\n"),
        ("reads.rs", "mod cache;\n"),
        ("reads/cache.rs", "use crate::api::handler;\n"),
    ]);
    assert_eq!(
        broken(&graph, &[("reads", "api")]),
        ["reads::cache -> api (rule: reads must not import api)"]
    );
}

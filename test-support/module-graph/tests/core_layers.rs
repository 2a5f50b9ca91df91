//! pikaci-core's layers, read from its sources: the engine orchestrates and
//! builds on host process control (`process`) and the source copy
//! (`snapshot`); neither of those reaches back into the engine, nor into
//! each other, and the model under all three reaches into none of them.

use std::collections::BTreeSet;
use std::path::Path;

use module_graph::Graph;

fn core() -> Graph {
    Graph::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pikaci-core/src/lib.rs"))
}

/// Every module `from` reaches through imports, directly or through others.
fn reachable(graph: &Graph, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_owned()];
    while let Some(m) = todo.pop() {
        for next in graph.imports_of(&m) {
            if seen.insert(next.clone()) {
                todo.push(next);
            }
        }
    }
    seen
}

/// Whether module `m` is `layer` or inside it.
fn in_layer(m: &str, layer: &str) -> bool {
    m == layer || m.starts_with(&format!("{layer}::"))
}

const LAYERS: [&str; 3] = ["engine", "process", "snapshot"];

#[test]
fn process_and_snapshot_never_reach_the_engine_or_each_other() {
    let graph = core();
    let mut problems = Vec::new();
    for m in graph.modules() {
        let allowed: &[&str] = if in_layer(&m, "engine") {
            continue;
        } else if in_layer(&m, "process") {
            &["process"]
        } else if in_layer(&m, "snapshot") {
            &["snapshot"]
        } else {
            // The model (and `contract`, which names how a child ended).
            &["process::group"]
        };
        for to in reachable(&graph, &m) {
            let layer = LAYERS.iter().find(|l| in_layer(&to, l));
            if let Some(layer) = layer
                && !allowed.iter().any(|a| in_layer(&to, a))
            {
                problems.push(format!("{m} reaches {to} ({layer})"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The reader sees the layers it guards, so the check is not vacuous.
#[test]
fn the_engine_builds_on_process_and_snapshot() {
    let graph = core();
    for (from, to) in [
        ("engine::host", "process::group"),
        ("engine::host", "process::pipe_copy"),
        ("engine::job", "process::capped"),
        ("engine::run", "snapshot::snapshotter"),
        ("engine::request", "snapshot::kept::objects"),
        ("process::capped", "process::log_cap"),
        ("process::exit_cleanup", "process::supervisor"),
        ("snapshot::kept_disk", "snapshot::kept::objects"),
        ("snapshot::snapshotter", "snapshot::source"),
        ("log_times", "clock"),
    ] {
        assert!(
            graph.imports(from, to),
            "{from} -> {to}: {:?}",
            graph.imports_of(from)
        );
    }
    for layer in LAYERS {
        assert!(
            graph.modules().iter().any(|m| in_layer(m, layer)),
            "{layer}: {:?}",
            graph.modules()
        );
    }
    assert_eq!(graph.cycles(), Vec::<Vec<String>>::new());
}

//! The store's layering, read from its sources by the workspace's module
//! graph reader (which also guards every crate against import cycles):
//! reading and writing build on the store, never the other way round, and
//! the read handles build on each other in order.

use module_graph::Graph;

fn graph() -> Graph {
    Graph::read(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/lib.rs"
    )))
}

#[test]
fn reading_and_writing_build_on_the_store_in_layers() {
    let graph = graph();
    for (from, to) in [
        ("read::follow", "read::job_log"),
        ("read::job_log", "read::job_dir"),
        ("read::job_dir", "read::run_dir"),
        ("read::run_dir", "store"),
        ("write", "store"),
    ] {
        assert!(
            graph.imports(from, to),
            "expected {from} to import {to}; it imports {:?}",
            graph.imports_of(from)
        );
    }
    for m in ["store", "write"] {
        for to in graph.imports_of(m) {
            assert!(!to.starts_with("read"), "{m} imports {to}");
        }
    }
    assert_eq!(graph.cycles(), Vec::<Vec<String>>::new());
}

//! Which modules of a Rust crate import which, read from its sources, so a
//! test can hold that no module imports a module that imports it back.
//!
//! - [`Graph::read`] follows a crate's `mod` declarations from its root file
//!   (`lib.rs`, `main.rs`, a test or bench root), leaving out test-only
//!   items (`#[cfg(test)]`), and records an edge for every path a module
//!   names (`crate::`, `super::`, `self::`, or a child module's name). A
//!   path through a re-export (`pub use`) is an edge to the module that
//!   defines the item, so children that use each other through their
//!   parent's re-exports are seen to. A module owns its children (it
//!   declares and re-exports them): paths into its own descendants are
//!   not imports.
//! - [`Graph::cycles`] lists the groups of modules that import each other.
//! - [`crate_roots`] and [`workspace_packages`] find what to read; the
//!   workspace's own test reads every crate root of every member.
//!
//! The reader is a scanner, not a compiler: it sees paths, not method calls
//! or macro expansions, so it finds no cycle that is not in the text.
//!
//! ```
//! use module_graph::Graph;
//!
//! let graph = Graph::from_sources([
//!     ("lib.rs", "mod a;\nmod b;\npub use a::Thing;\n"),
//!     ("a.rs", "use crate::b::helper;\npub struct Thing;\n"),
//!     ("b.rs", "pub fn helper() {}\n#[cfg(test)]\nmod tests { use crate::Thing; }\n"),
//! ]);
//! assert!(graph.imports("a", "b"));
//! // The root owns `a` (it declares and re-exports it): not an import.
//! assert!(!graph.imports("crate", "a"));
//! assert!(graph.cycles().is_empty());
//! ```

mod graph;
mod paths;
mod source;
mod tree;
mod workspace;

pub use graph::Graph;
pub use workspace::{crate_roots, import_problems, workspace_packages};

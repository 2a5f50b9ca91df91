//! Integration tests of pikaci-store, run against both file systems.

#[macro_use]
mod support;

mod fs_contract;
mod fuzz;
mod gc;
mod logs;
mod module_graph;
mod prepared;
mod records;
mod upstream;

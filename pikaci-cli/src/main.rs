//! The `pikaci` binary.

fn main() {}

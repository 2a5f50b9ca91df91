//! Example programs live in `examples/`; run one with `cargo run -p pikaci-examples --example NAME`.

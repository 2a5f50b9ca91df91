//! Integration tests: the real `pikaci-incus-run` binary, and the executor
//! driving the `fake-incus` stand-in with real processes.

mod cli_e2e;
mod e2e;
mod guest_bin;
mod support;

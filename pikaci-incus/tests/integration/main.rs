//! Integration tests: the real `pikaci-incus-run` binary; the executor and
//! the `pikaci` binary against real Incus daemons (`scripts/test-setup.sh`
//! makes them); the `fake-incus` stand-in for faults a real daemon cannot
//! produce on demand, and a conformance test comparing the two.

mod conformance;
mod fake_faults;
mod guest_bin;
mod real_cli;
mod real_executor;
mod support;
mod world;

//! Integration tests: the real `pikaci-incus-run` binary; the executor and
//! the `pikaci` binary against real Incus daemons (`scripts/test-setup.sh`
//! makes them), `remote_host` through a real sshd on 127.0.0.1; the `fake-incus` stand-in for faults a real daemon cannot
//! produce on demand, and a conformance test comparing the two.

mod conformance;
mod fake_faults;
mod guest_bin;
mod real_cli;
mod real_executor;
mod sshd;
mod support;
mod world;

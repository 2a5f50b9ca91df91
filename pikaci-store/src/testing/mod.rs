//! Test data in the shape the earlier pikaci (upstream's) left on disk, for
//! the tests of every crate that reads state roots (behind the `test-helpers`
//! feature).
//!
//! [`UpstreamRun`] writes one run folder the way upstream's pikaci did:
//!
//! ```text
//! runs/<id>/run.json                             every key upstream wrote, `null` optionals, `+00:00` times
//! runs/<id>/plan.json, prepared-outputs.json
//! runs/<id>/snapshot/...
//! runs/<id>/jobs/<job>/host.log
//! runs/<id>/jobs/<job>/status.json
//! runs/<id>/jobs/<job>/artifacts/guest.log       the guest log (not jobs/<job>/guest.log)
//! runs/<id>/jobs/<job>/artifacts/result.json
//! ```
//!
//! The record is serialized from structs laid out field by field as
//! upstream's, so keys come in upstream's order and every optional key is
//! present (as `null` when empty), as upstream's serde wrote them.

mod shape;
mod upstream;

pub use upstream::{
    UNMODELLED_JOB_KEYS, UNMODELLED_RUN_KEYS, UPSTREAM_VM_PHASES, UpstreamJob, UpstreamRun,
};

//! What upstream pika's `ph` client calls, served beside our own API under
//! the same auth: its shapes ([`dto`]), our rows in its words (`view`), its
//! lane actions scoped to a branch or a nightly run (`actions`), merge and
//! close (`branch_end`), nightly runs
//! (`nightly`), wake, who-am-I and the branch address (`meta`), and the end
//! of a lane log as `log_text` (`logs`). Resolve, detail and branch logs are
//! our own routes (`api/branch.rs`), whose answers carry upstream's keys too.

pub(crate) mod actions;
pub(crate) mod branch_end;
pub(crate) mod dto;
pub(crate) mod hints;
pub(crate) mod logs;
pub(crate) mod meta;
pub(crate) mod nightly;
pub(crate) mod view;

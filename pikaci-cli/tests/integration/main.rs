//! Integration tests of the `pikaci` binary, each in its own temporary repository.

mod support;

mod config;
mod docs;
mod gc;
mod hostile;
mod ids;
mod job_signals;
mod kept;
mod kill;
mod owner_lock;
mod prepared;
mod read;
mod reliability;
mod rerun;
mod run;
mod signals;
mod targets;
mod tty;
mod upstream;

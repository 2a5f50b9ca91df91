//! Integration tests of the `pikaci` binary, each in its own temporary repository.

mod support;

mod config;
mod hostile;
mod read;
mod reliability;
mod rerun;
mod run;
mod signals;
mod upstream;

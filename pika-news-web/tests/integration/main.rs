//! Integration tests of pika-news: handlers over a real SQLite file and real
//! state roots, auth on every route, hostile input, a real socket, the binary.

mod forge;
mod served;
mod support;

mod actions;
mod api;
mod auth;
mod binary;
mod connections;
mod e2e;
mod errors;
mod faults;
mod fifo;
mod hostile;
mod memory;
mod nightly;
mod openapi;
mod ph_binary;
mod ph_client;
mod ph_compat;
mod pikaci_logs;
mod restart;
mod sandbox;
mod scheduler;
mod server;
mod stopping;
mod upstream;

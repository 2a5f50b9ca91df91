//! Integration tests of pika-news: handlers over a real SQLite file and real
//! state roots, auth on every route, hostile input, a real socket, the binary.

mod forge;
mod support;

mod actions;
mod api;
mod auth;
mod binary;
mod e2e;
mod faults;
mod hostile;
mod nightly;
mod openapi;
mod ph_binary;
mod ph_client;
mod ph_compat;
mod pikaci_logs;
mod scheduler;
mod server;
mod upstream;

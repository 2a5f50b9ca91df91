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
mod openapi;
mod pikaci_logs;
mod scheduler;
mod server;

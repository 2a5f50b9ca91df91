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
mod openapi;
mod pikaci_logs;
mod restart;
mod sandbox;
mod scheduler;
mod server;
mod stopping;

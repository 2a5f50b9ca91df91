//! Integration tests of pika-news: handlers over a real SQLite file and real
//! state roots, auth on every route, hostile input, a real socket, the binary.

mod browser;
mod forge;
mod page_env;
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
mod pages;
mod pages_browser;
mod ph_binary;
mod ph_client;
mod ph_compat;
mod pikaci_logs;
mod raw_logs;
mod scheduler;
mod server;
mod stream;
mod timestamps;
mod upstream;

//! Integration tests of pika-news: handlers over a real SQLite file and real
//! state roots, auth on every route, hostile input, a real socket, the binary.

mod browser;
mod forge;
mod page_env;
mod served;
mod support;

mod actions;
mod apart;
mod api;
mod auth;
mod binary;
mod connections;
mod e2e;
mod errors;
mod faults;
mod fifo;
mod handover;
mod hostile;
mod lane_cgroups;
mod layers;
mod login;
mod memory;
mod nightly;
mod no_server_paths;
mod openapi;
mod pages;
mod pages_browser;
mod ph_binary;
mod ph_client;
mod ph_compat;
mod pikaci_logs;
mod prefixes;
mod raw_logs;
mod reads;
mod restart;
mod run_cache;
mod sandbox;
mod scheduler;
mod server;
mod stopping;
mod stream;
mod timestamps;
mod upstream;

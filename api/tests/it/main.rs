//! Integration tests: the real server on port 0 against a real PostgreSQL (a fresh database per
//! test). One test binary, so the suite links once.

mod common;
#[path = "../support/mod.rs"]
mod support;

mod auth;
mod coalesce;
mod coding;
mod config_errors;
mod connections;
mod connections_coding;
mod daily;
mod db;
mod db_tls;
mod github;
mod hardening;
mod health;
mod jobs;
mod metrics;
mod migrations;
mod openapi;
mod providers;
mod retention;
mod runs;
mod shares;
mod shutdown;
mod trash;

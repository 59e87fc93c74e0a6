//! `webedt-api`: the stateless WebEDT backend. Every replica is interchangeable because users,
//! auth sessions, chat sessions and their event logs live in PostgreSQL.
//!
//! One module per capability, each owning its routes and queries; `http` assembles them.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod config;
pub mod connections;
pub mod db;
pub mod error;
pub mod events;
pub mod github;
pub mod health;
pub mod http;
pub mod images;
pub mod jobs;
pub mod json;
pub mod lifecycle;
pub mod local;
pub mod metrics;
pub mod openapi;
pub mod outbound;
pub mod realtime;
pub mod runs;
pub mod server;
pub mod sessions;
pub mod shares;
pub mod state;
pub mod telemetry;
pub mod ui;
pub mod validate;

pub use config::Config;
pub use server::Server;
pub use state::AppState;

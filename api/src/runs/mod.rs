//! Runs: AI work on a session, executed on one replica and observable from all.

mod appender;
pub mod local_worker;
mod manager;
pub mod orphans;
pub mod providers;
mod routes;

pub use manager::{Runs, interrupt, session_deleted, start};
pub use providers::Providers;
pub use routes::router;

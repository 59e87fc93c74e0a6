//! The PostgreSQL layer: the pool, migrations, and the health monitor that `/ready` follows.

mod exec;
mod health;
mod pool;

pub use exec::{Conn, ConnHandle, Tx, TxHandle};
pub use health::{DbHealth, DbHealthSnapshot, spawn_bootstrap, spawn_health_monitor};
pub use pool::{Db, begin_statement, connect_options, direct_connect_options, migrate, new_pool};

/// Migrations are compiled into the binary, so an image carries the schema it expects.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

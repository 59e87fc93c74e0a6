//! A private PostgreSQL cluster started from the installed server binaries.
//!
//! Used by `webedt-api` when `DATABASE_URL` is unset (a persistent cluster under `.webedt/`),
//! by the test command (one throwaway cluster for the whole run) and by tests that stop and
//! start their database (a throwaway cluster each, so the shared one is never disturbed).
//!
//! Things that make this harder than `initdb && pg_ctl start`:
//! - `initdb` and `postgres` refuse to run as root, and CI and containers run as root: the server
//!   then runs as the `postgres` (or `nobody`) user, in directories that user can traverse. A
//!   checkout inside a 0700 home directory is not traversable, so the cluster moves to a
//!   per-checkout directory under the system temp dir.
//! - A crashed run leaves `postmaster.pid` behind: a pid file whose process is gone is removed;
//!   one whose server still runs is reused rather than fought.
//! - Several clusters run at once (tests, a dev server): each gets a free TCP port on 127.0.0.1
//!   and no Unix socket, so there is no shared socket directory to collide in.

mod binaries;
mod cluster;
mod user;

pub use binaries::PgBinaries;
pub use cluster::{Cluster, ClusterOptions, Error, ServerTls};

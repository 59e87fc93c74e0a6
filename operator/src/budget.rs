//! The connection budget: every PostgreSQL connection an installation can hold at its peak,
//! against what the database grants it (`spec.database.maxConnections`).
//!
//! At the peak there are `peak replicas` pods (the autoscaler's maximum when it is on) plus the
//! rolling-update surge pods the Deployment may add (`rollout.maxSurge`) during a rollout. Each pod holds its request
//! pool (`DB_POOL_MAX`) and one LISTEN connection outside it; one more connection runs the
//! migrations (the Job's, or a starting pod's before it serves). With a pooler, the pools talk to
//! the pooler and PostgreSQL sees the pooler's server connections instead; LISTEN and the
//! migrations still go straight to PostgreSQL. The coding-agent workers (spec.worker) hold no
//! database connection: they get no database variable, so they are not counted.

use crate::validate::ValidatedWebEDT;

/// Connections outside the request pool per pod: the LISTEN connection.
pub const LISTEN_PER_POD: u32 = 1;
/// The migration connection (one `webedt-api migrate` at a time: it holds an advisory lock).
pub const MIGRATION_CONNECTIONS: u32 = 1;

/// The peak, term by term, so messages can show the arithmetic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionBudget {
    pub peak_replicas: i32,
    pub surge: i32,
    pub pool_max: u32,
    /// The pooler's server connections, when a pooler carries the pools.
    pub pooler_server: Option<u32>,
    /// What PostgreSQL grants (`database.maxConnections`).
    pub granted: Option<u32>,
    /// What the pooler accepts (`database.pooler.maxClientConnections`).
    pub pooler_accepts: Option<u32>,
}

impl ConnectionBudget {
    pub fn of(v: &ValidatedWebEDT) -> Self {
        let peak_replicas = v.peak_replicas();
        let pooler = v.spec.database.pooler.as_ref();
        Self {
            peak_replicas,
            // The Deployment's maxSurge (spec.rollout.maxSurge): pods a rollout adds.
            surge: if peak_replicas > 0 {
                v.spec.rollout.max_surge
            } else {
                0
            },
            pool_max: v.pool.max_connections,
            pooler_server: pooler.map(|p| p.server_connections),
            granted: v.spec.database.max_connections,
            pooler_accepts: pooler.and_then(|p| p.max_client_connections),
        }
    }

    fn pods(&self) -> u64 {
        (self.peak_replicas + self.surge).max(0) as u64
    }

    /// Connections PostgreSQL sees at the peak.
    pub fn postgres(&self) -> u64 {
        let per_pod_direct = match self.pooler_server {
            None => u64::from(self.pool_max) + u64::from(LISTEN_PER_POD),
            Some(_) => u64::from(LISTEN_PER_POD),
        };
        self.pods() * per_pod_direct
            + u64::from(MIGRATION_CONNECTIONS)
            + u64::from(self.pooler_server.unwrap_or(0))
    }

    /// Client connections the pooler sees at the peak (0 without a pooler).
    pub fn pooler_clients(&self) -> u64 {
        if self.pooler_server.is_some() {
            self.pods() * u64::from(self.pool_max)
        } else {
            0
        }
    }

    pub fn postgres_exceeded(&self) -> bool {
        self.granted.is_some_and(|g| self.postgres() > u64::from(g))
    }

    pub fn pooler_exceeded(&self) -> bool {
        self.pooler_server.is_some()
            && self
                .pooler_accepts
                .is_some_and(|a| self.pooler_clients() > u64::from(a))
    }

    fn pods_term(&self) -> String {
        format!(
            "({} replicas + {} rollout surge)",
            self.peak_replicas, self.surge
        )
    }

    /// The PostgreSQL side, e.g. `(3 replicas + 1 rollout surge) × (pool 20 + 1 LISTEN) + 1
    /// migration = 85`.
    pub fn postgres_arithmetic(&self) -> String {
        match self.pooler_server {
            None => format!(
                "{} × (pool {} + {LISTEN_PER_POD} LISTEN) + {MIGRATION_CONNECTIONS} migration = {}",
                self.pods_term(),
                self.pool_max,
                self.postgres()
            ),
            Some(server) => format!(
                "{} × {LISTEN_PER_POD} LISTEN + {MIGRATION_CONNECTIONS} migration + {server} pooler server connections = {}",
                self.pods_term(),
                self.postgres()
            ),
        }
    }

    /// The pooler's client side, e.g. `(3 replicas + 1 rollout surge) × pool 20 = 80`.
    pub fn pooler_arithmetic(&self) -> String {
        format!(
            "{} × pool {} = {}",
            self.pods_term(),
            self.pool_max,
            self.pooler_clients()
        )
    }

    /// The largest pool.maxConnections that fits, if any does.
    pub fn fitting_pool_max(&self) -> Option<u64> {
        let pods = self.pods().max(1);
        if self.pooler_server.is_some() {
            self.pooler_accepts.map(|a| u64::from(a) / pods)
        } else {
            let g = u64::from(self.granted?);
            let fixed = pods * u64::from(LISTEN_PER_POD) + u64::from(MIGRATION_CONNECTIONS);
            g.checked_sub(fixed)
                .map(|rest| rest / pods)
                .filter(|n| *n > 0)
        }
    }
}

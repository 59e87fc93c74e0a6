//! Database and session-secret references.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// The PostgreSQL database all replicas share.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.secretRef) != has(self.credentialsSecretRef)").message("database needs exactly one of secretRef (a URI) and credentialsSecretRef (host, port, dbname, user, password)").field_path(".secretRef"),
    validation = Rule::new("!has(self.pooler) || has(self.directSecretRef)").message("database.pooler needs database.directSecretRef: LISTEN and the migrations' advisory lock need a session of their own, which a transaction-mode pooler does not keep").field_path(".directSecretRef")
)]
pub struct DatabaseSpec {
    /// Secret holding the connection URI (`postgres://…`) the request pools use. The
    /// `<cluster>-app` Secret that CloudNativePG creates works as is (its key `uri`); with
    /// `pooler` set, this URI points at the pooler. Exactly one of this and
    /// credentialsSecretRef.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<DatabaseSecretRef>,

    /// The connection as parts in a Secret (DB_HOST, DB_PORT, DB_NAME, DB_USER, DB_PASSWORD):
    /// the keys CloudNativePG's `<cluster>-app` Secret holds. Any password works (the API
    /// percent-encodes the parts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret_ref: Option<CredentialsSecretRef>,

    /// TLS to PostgreSQL: the sslmode and the CA the server's certificate must chain to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<DatabaseTlsSpec>,

    /// Secret holding a URI straight to PostgreSQL (DATABASE_DIRECT_URL), for what a
    /// transaction-mode pooler cannot carry: each replica's LISTEN connection and the
    /// migrations. Required with `pooler`; unset: secretRef's URI is used for everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direct_secret_ref: Option<DatabaseSecretRef>,

    /// A connection pooler (PgBouncer, e.g. a CloudNativePG `Pooler`) between the request pools
    /// and PostgreSQL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooler: Option<PoolerSpec>,

    /// Connections PostgreSQL grants this application (its `max_connections` minus reserved and
    /// other clients' connections). The operator counts what the installation can open at its
    /// peak (replicas at the autoscaler's maximum plus the rolling-update surge pod, each with
    /// its pool and its LISTEN connection, the migration connection, and with a pooler the
    /// pooler's server connections instead of the pools) and reports ConnectionBudgetExceeded
    /// with the arithmetic when it is larger. Unset: not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_connections: Option<u32>,
}

/// A connection pooler in front of PostgreSQL. The numbers describe the pooler as deployed (the
/// operator does not manage it) so the connection budget can be checked on both sides of it.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PoolerSpec {
    /// How the pooler hands out server connections (DB_POOLER_MODE). `Transaction`
    /// (PgBouncer's `pool_mode = transaction`, CloudNativePG's default): every statement runs
    /// unprepared inside an explicit transaction. `Session`: a session-mode pooler behaves like
    /// PostgreSQL itself.
    #[serde(default)]
    pub mode: PoolerMode,

    /// Connections the pooler opens to PostgreSQL in total (PgBouncer's `default_pool_size` ×
    /// pooler instances): what counts against database.maxConnections instead of the pools.
    #[schemars(range(min = 1, max = 100000))]
    pub server_connections: u32,

    /// Client connections the pooler accepts in total (PgBouncer's `max_client_conn` × pooler
    /// instances). The request pools of every pod at the peak must fit, or the operator
    /// reports PoolerClientsExceeded. Unset: not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_client_connections: Option<u32>,
}

/// How a pooler hands out server connections.
#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default,
)]
pub enum PoolerMode {
    #[default]
    Transaction,
    Session,
}

impl PoolerMode {
    /// The API's DB_POOLER_MODE for this pooler.
    pub fn contract(self) -> webedt_contract::PoolerMode {
        match self {
            Self::Transaction => webedt_contract::PoolerMode::Transaction,
            Self::Session => webedt_contract::PoolerMode::None,
        }
    }
}

/// A Secret holding the connection's parts, one key each.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsSecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key of the host name.
    #[serde(default = "k_host")]
    #[schemars(length(min = 1, max = 253))]
    pub host_key: String,
    /// Key of the port.
    #[serde(default = "k_port")]
    #[schemars(length(min = 1, max = 253))]
    pub port_key: String,
    /// Key of the database name.
    #[serde(default = "k_dbname")]
    #[schemars(length(min = 1, max = 253))]
    pub dbname_key: String,
    /// Key of the user name.
    #[serde(default = "k_user")]
    #[schemars(length(min = 1, max = 253))]
    pub user_key: String,
    /// Key of the password.
    #[serde(default = "k_password")]
    #[schemars(length(min = 1, max = 253))]
    pub password_key: String,
}

fn k_host() -> String {
    "host".into()
}
fn k_port() -> String {
    "port".into()
}
fn k_dbname() -> String {
    "dbname".into()
}
fn k_user() -> String {
    "user".into()
}
fn k_password() -> String {
    "password".into()
}

/// TLS to PostgreSQL (DB_SSLMODE, DB_SSLROOTCERT).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!(has(self.caSecretRef) && has(self.caConfigMapRef))").message("database.tls takes caSecretRef or caConfigMapRef, not both").field_path(".caSecretRef"),
    validation = Rule::new("!(self.sslMode in ['verify-ca', 'verify-full']) || has(self.caSecretRef) || has(self.caConfigMapRef)").message("database.tls.sslMode verify-ca and verify-full need caSecretRef or caConfigMapRef").field_path(".sslMode")
)]
pub struct DatabaseTlsSpec {
    /// libpq sslmode: `require` encrypts; `verify-ca` also checks that the certificate chains
    /// to the CA; `verify-full` also checks that it names the host. (CloudNativePG: the
    /// `<cluster>-ca` Secret, key `ca.crt`, with `verify-full`.)
    #[serde(default = "d_sslmode")]
    pub ssl_mode: SslMode,
    /// Secret key holding the CA bundle (PEM); mounted read-only into the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_secret_ref: Option<KeyRef>,
    /// ConfigMap key holding the CA bundle (PEM); mounted read-only into the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_config_map_ref: Option<KeyRef>,
}

fn d_sslmode() -> SslMode {
    SslMode::VerifyFull
}

/// libpq sslmode values.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// A key of a Secret or ConfigMap in the WebEDT's namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KeyRef {
    /// Name of the object.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The key.
    #[serde(default = "k_ca")]
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

fn k_ca() -> String {
    "ca.crt".into()
}

/// A key of a Secret in the WebEDT's namespace holding the database URI.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseSecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key in the Secret whose value is the `postgres://` URI.
    #[serde(default = "default_database_key")]
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

fn default_database_key() -> String {
    "uri".into()
}

/// The session secret (at least 32 bytes) shared by every replica.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct SessionSecretSpec {
    /// An existing Secret to use. Unset: the operator creates `<name>-session` with a random
    /// value once and never changes it (changing it logs every user out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SessionSecretRef>,
}

/// A key of a Secret in the WebEDT's namespace holding the session secret.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SessionSecretRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key in the Secret whose value is the session secret (at least 32 bytes).
    #[serde(default = "default_session_key")]
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// The keys that encrypt users' connection tokens at rest (`CREDENTIALS_KEYS`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsSpec {
    /// An existing Secret whose key holds `id:base64key,…` (each key at least 32 bytes; the
    /// first encrypts, every one decrypts). Unset: the operator creates `<name>-credentials`
    /// with one random key once and never changes it. To rotate, put a new entry first, let
    /// the pods roll, then run `webedt-api reencrypt` in one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<CredentialsKeysRef>,
}

/// A key of a Secret in the WebEDT's namespace holding the credentials keys.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsKeysRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key in the Secret whose value is the key list.
    #[serde(default = "default_credentials_key")]
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// Key of the key list, also in the Secret the operator generates.
pub const CREDENTIALS_KEY: &str = "keys";

fn default_credentials_key() -> String {
    CREDENTIALS_KEY.into()
}

/// Key of the session secret, also in the Secret the operator generates.
pub const SESSION_SECRET_KEY: &str = "secret";

fn default_session_key() -> String {
    SESSION_SECRET_KEY.into()
}

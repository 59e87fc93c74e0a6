//! Database and session-secret references.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// The PostgreSQL database all replicas share.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseSpec {
    /// Secret holding the connection URI (`postgres://…`). The `<cluster>-app` Secret that
    /// CloudNativePG creates works as is (its key `uri`).
    pub secret_ref: DatabaseSecretRef,

    /// Connections the database grants this application (its `max_connections` minus reserved
    /// and other clients' connections). When replicas × pool.maxConnections exceeds it, the
    /// operator reports ConnectionBudgetExceeded. Unset: not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub max_connections: Option<u32>,
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

/// Key of the session secret, also in the Secret the operator generates.
pub const SESSION_SECRET_KEY: &str = "secret";

fn default_session_key() -> String {
    SESSION_SECRET_KEY.into()
}

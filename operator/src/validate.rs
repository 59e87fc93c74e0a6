//! `WebEDT` → [`ValidatedWebEDT`]: the checked, normalised model the builders consume.
//!
//! The apiserver already enforces the CRD's CEL rules, but `render` runs offline and a CRD can be
//! older than the operator, so the rules the builders rely on are checked here again, with the
//! contract crate's own `validate()` for the numbers that become environment variables.
//! Problems that do not make the objects wrong (a connection budget overrun, an Ingress without
//! TLS) are [`Finding`]s: reported as Events and conditions, never blocking.

use crate::crd::{
    DatabaseSecretRef, MAX_NAME_LENGTH, MigrationMode, SESSION_SECRET_KEY, SecretKeyRef, WebEDT,
    WebEDTSpec,
};
use crate::error::{Error, Result};
use webedt_contract::{OrphanSettings, PoolSettings, ShutdownSettings, names};

/// A key of a Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretKey {
    pub name: String,
    pub key: String,
}

/// A Secret key the pods read, and the environment variable it becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodSecret {
    pub var: &'static str,
    pub key: SecretKey,
}

/// Something worth telling the user that does not stop reconciliation.
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    /// At full scale the pools may open more connections than the database grants this app.
    ConnectionBudgetExceeded {
        /// spec.replicas, or autoscaling.maxReplicas when autoscaling is on.
        replicas: i32,
        per_replica: u32,
        budget: u32,
    },
    /// The Ingress serves plain http, but the session cookie is `Secure` by default.
    IngressWithoutTls,
}

impl Finding {
    /// Event reason / condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::ConnectionBudgetExceeded { .. } => "ConnectionBudgetExceeded",
            Self::IngressWithoutTls => "IngressWithoutTls",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::ConnectionBudgetExceeded {
                replicas,
                per_replica,
                budget,
            } => format!(
                "{replicas} replicas × pool.maxConnections {per_replica} = {} connections exceed database.maxConnections {budget}; lower pool.maxConnections to {} or fewer, or raise the budget",
                i64::from(*replicas) * i64::from(*per_replica),
                if *replicas > 0 {
                    *budget / (*replicas as u32)
                } else {
                    *budget
                },
            ),
            Self::IngressWithoutTls => format!(
                "the Ingress has no TLS but the session cookie is Secure: logins only work if TLS is terminated in front of it, otherwise set {}=false in spec.env",
                names::COOKIE_SECURE
            ),
        }
    }
}

/// The checked model of one `WebEDT`.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedWebEDT {
    pub name: String,
    pub namespace: String,
    /// `None` for a manifest that was never stored (offline `render`).
    pub uid: Option<String>,
    /// The spec as written (with defaults); k8s-typed passthrough fields are read from here.
    pub spec: WebEDTSpec,
    pub pool: PoolSettings,
    pub orphans: OrphanSettings,
    /// Not in the spec: the API's defaults, written out so the pod's grace period and the API
    /// agree on one value.
    pub shutdown: ShutdownSettings,
    pub database: SecretKey,
    pub session_secret: SecretKey,
    /// True when the operator generates the session Secret (`<name>-session`).
    pub session_secret_generated: bool,
    pub findings: Vec<Finding>,
}

impl ValidatedWebEDT {
    /// Replica count that bounds resource use: autoscaling max, or spec.replicas.
    pub fn peak_replicas(&self) -> i32 {
        if self.spec.autoscaling.enabled {
            self.spec.autoscaling.max_replicas
        } else {
            self.spec.replicas
        }
    }

    pub fn migrations_as_job(&self) -> bool {
        self.spec.migrations.mode == MigrationMode::Job
    }

    /// Every Secret key the pods read, with the variable it becomes: the one list that
    /// dereference checks, the Secret watch maps back to this `WebEDT` and the env builder
    /// writes, so a key added here is checked, rolls the pods when rotated and reaches them.
    pub fn secret_keys(&self) -> Vec<PodSecret> {
        let p = &self.spec.providers;
        let referenced = |var: &'static str, r: Option<&SecretKeyRef>| {
            r.map(|r| PodSecret {
                var,
                key: SecretKey {
                    name: r.name.clone(),
                    key: r.key.clone(),
                },
            })
        };
        [
            Some(PodSecret {
                var: names::DATABASE_URL,
                key: self.database.clone(),
            }),
            Some(PodSecret {
                var: names::SESSION_SECRET,
                key: self.session_secret.clone(),
            }),
            referenced(
                names::ANTHROPIC_API_KEY,
                p.anthropic
                    .as_ref()
                    .and_then(|a| a.api_key_secret_ref.as_ref()),
            ),
            referenced(
                names::OPENAI_API_KEY,
                p.openai
                    .as_ref()
                    .and_then(|o| o.api_key_secret_ref.as_ref()),
            ),
            referenced(
                names::AI_WORKER_SECRET,
                p.worker.as_ref().and_then(|w| w.secret_ref.as_ref()),
            ),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Names of every Secret the pods read ([`Self::secret_keys`]), sorted and deduplicated:
    /// the controller watches these and hashes their versions into the pod template.
    pub fn referenced_secrets(&self) -> Vec<String> {
        let mut names: Vec<String> = self.secret_keys().into_iter().map(|s| s.key.name).collect();
        names.sort();
        names.dedup();
        names
    }
}

/// Every variable the operator writes itself; `spec.env` may not set them (duplicates in a
/// container's env are ambiguous, and server-side apply rejects them).
pub const OPERATOR_ENV: &[&str] = &[
    names::DATABASE_URL,
    names::SESSION_SECRET,
    names::PORT,
    names::CONTAINER_ID,
    names::MIGRATE_ON_START,
    names::DB_POOL_MAX,
    names::DB_POOL_MIN,
    names::DB_IDLE_TIMEOUT_MS,
    names::DB_CONNECT_TIMEOUT_MS,
    names::DB_STATEMENT_TIMEOUT_MS,
    names::ORPHAN_SESSION_TIMEOUT_MINUTES,
    names::ORPHAN_CLEANUP_INTERVAL_MINUTES,
    names::SHUTDOWN_TIMEOUT_MS,
    names::LB_DRAIN_DELAY_MS,
    names::DEFAULT_PROVIDER,
    names::ANTHROPIC_API_KEY,
    names::ANTHROPIC_BASE_URL,
    names::ANTHROPIC_MODEL,
    names::OPENAI_API_KEY,
    names::OPENAI_BASE_URL,
    names::OPENAI_MODEL,
    names::AI_WORKER_URL,
    names::AI_WORKER_SECRET,
];

/// Checks a `WebEDT` and resolves what the builders need. `default_namespace` applies when the
/// object has none (offline manifests).
pub fn validate(cr: &WebEDT, default_namespace: &str) -> Result<ValidatedWebEDT> {
    let name = cr.metadata.name.clone().ok_or(Error::MissingName)?;
    check_name(&name)?;
    let spec = cr.spec.clone();

    let pool = PoolSettings::from(&spec.pool);
    pool.validate().map_err(Error::InvalidPoolSettings)?;
    let orphans = OrphanSettings::from(&spec.orphans);
    orphans.validate().map_err(Error::InvalidOrphanSettings)?;

    let a = &spec.autoscaling;
    if a.enabled && a.min_replicas > a.max_replicas {
        return Err(Error::InvalidAutoscaling {
            min: a.min_replicas,
            max: a.max_replicas,
        });
    }
    if let Some(var) = spec
        .env
        .iter()
        .find(|e| OPERATOR_ENV.contains(&e.name.as_str()))
    {
        return Err(Error::ReservedEnvVar {
            name: var.name.clone(),
        });
    }

    let DatabaseSecretRef { name: db, key } = &spec.database.secret_ref;
    let database = SecretKey {
        name: db.clone(),
        key: key.clone(),
    };
    let (session_secret, session_secret_generated) = match &spec.session_secret.secret_ref {
        Some(r) => (
            SecretKey {
                name: r.name.clone(),
                key: r.key.clone(),
            },
            false,
        ),
        None => (
            SecretKey {
                name: session_secret_name(&name),
                key: SESSION_SECRET_KEY.into(),
            },
            true,
        ),
    };

    let mut v = ValidatedWebEDT {
        namespace: cr
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| default_namespace.to_string()),
        uid: cr.metadata.uid.clone(),
        name,
        spec,
        pool,
        orphans,
        shutdown: ShutdownSettings::default(),
        database,
        session_secret,
        session_secret_generated,
        findings: Vec::new(),
    };
    v.findings = findings(&v);
    Ok(v)
}

/// Name of the Secret the operator generates when spec.sessionSecret.secretRef is unset.
pub fn session_secret_name(name: &str) -> String {
    format!("{name}-session")
}

fn findings(v: &ValidatedWebEDT) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(budget) = v.spec.database.max_connections {
        let replicas = v.peak_replicas();
        let per_replica = v.pool.max_connections;
        if i64::from(replicas) * i64::from(per_replica) > i64::from(budget) {
            out.push(Finding::ConnectionBudgetExceeded {
                replicas,
                per_replica,
                budget,
            });
        }
    }
    if v.spec.ingress.enabled && v.spec.ingress.tls.is_none() {
        out.push(Finding::IngressWithoutTls);
    }
    out
}

/// Same rules as the CRD's metadata CEL rules, for manifests that never met an apiserver.
fn check_name(name: &str) -> Result<()> {
    let invalid = |rule| {
        Err(Error::InvalidName {
            name: name.to_string(),
            rule,
        })
    };
    if name.len() > MAX_NAME_LENGTH {
        return invalid("is longer than 40 characters");
    }
    let b = name.as_bytes();
    let ok_chars = b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if b.is_empty() || !ok_chars || !b[0].is_ascii_lowercase() || b[b.len() - 1] == b'-' {
        return invalid(
            "is not a DNS-1035 label (lowercase letters, digits, '-', starting with a letter)",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cr(name: &str, spec: serde_json::Value) -> WebEDT {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "webedt.dev/v1alpha1", "kind": "WebEDT",
            "metadata": {"name": name},
            "spec": spec,
        }))
        .unwrap()
    }

    fn minimal() -> serde_json::Value {
        serde_json::json!({"image": "i", "database": {"secretRef": {"name": "db"}}})
    }

    fn reason(name: &str, patch: serde_json::Value) -> &'static str {
        let mut spec = minimal();
        for (k, v) in patch.as_object().unwrap() {
            spec[k] = v.clone();
        }
        validate(&cr(name, spec), "ns").unwrap_err().reason()
    }

    #[test]
    fn rules_the_builders_rely_on_are_checked_offline() {
        use serde_json::json;
        assert_eq!(reason(&"a".repeat(41), json!({})), "InvalidName");
        assert_eq!(reason("Upper", json!({})), "InvalidName");
        assert_eq!(reason("trailing-", json!({})), "InvalidName");
        assert_eq!(
            reason("ok", json!({"pool": {"maxConnections": 0}})),
            "InvalidPoolSettings"
        );
        assert_eq!(
            reason(
                "ok",
                json!({"orphans": {"timeoutMinutes": 1, "cleanupIntervalMinutes": 2}})
            ),
            "InvalidOrphanSettings"
        );
        assert_eq!(
            reason(
                "ok",
                json!({"autoscaling": {"enabled": true, "minReplicas": 3, "maxReplicas": 2}})
            ),
            "InvalidAutoscaling"
        );
        assert_eq!(
            reason(
                "ok",
                json!({"env": [{"name": "SESSION_SECRET", "value": "x"}]})
            ),
            "ReservedEnvVar"
        );
        let mut nameless = cr("x", minimal());
        nameless.metadata.name = None;
        assert_eq!(
            validate(&nameless, "ns").unwrap_err().reason(),
            "MissingName"
        );
        assert!(validate(&cr(&"a".repeat(40), minimal()), "ns").is_ok());
    }

    #[test]
    fn event_reasons_are_upper_camel_case() {
        let errors = [
            Error::MissingName,
            Error::InvalidAutoscaling { min: 2, max: 1 },
            Error::NoWebEDT { path: "p".into() },
        ];
        for e in errors {
            let r = e.reason();
            assert!(
                r.chars().next().unwrap().is_ascii_uppercase()
                    && r.chars().all(|c| c.is_ascii_alphanumeric()),
                "{r}"
            );
            assert!(
                format!("{e:?}").starts_with(r),
                "reason {r} is the variant name of {e:?}"
            );
        }
    }
}

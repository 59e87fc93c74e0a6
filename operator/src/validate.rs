//! `WebEDT` → [`ValidatedWebEDT`]: the checked, normalised model the builders consume.
//!
//! The apiserver already enforces the CRD's CEL rules, but `render` runs offline and a CRD can be
//! older than the operator, so the rules the builders rely on are checked here again, with the
//! contract crate's own `validate()` for the numbers that become environment variables.
//! Problems that do not make the objects wrong (a connection budget overrun, an Ingress without
//! TLS) are [`Finding`]s: reported as Events and conditions, never blocking.

use crate::budget::ConnectionBudget;
use crate::crd::{
    CREDENTIALS_KEY, DatabaseSecretRef, GithubSpec, MAX_NAME_LENGTH, MigrationMode,
    SESSION_SECRET_KEY, SecretKeyRef, SslMode, WebEDT, WebEDTSpec,
};
use crate::error::{Error, Result};
use crate::worker::{ValidatedWorker, validate_worker};
use k8s_openapi::api::autoscaling::v2::MetricSpec;
use k8s_openapi::api::core::v1::{Container, PodTemplateSpec, Volume};
use webedt_contract::{
    GithubSettings, LimitSettings, OrphanSettings, PoolSettings, ProviderLimits, ScaleSettings,
    ShutdownSettings, names,
};

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
    /// At its peak the installation may open more connections than PostgreSQL grants it.
    ConnectionBudgetExceeded(ConnectionBudget),
    /// At its peak the request pools may open more connections than the pooler accepts.
    PoolerClientsExceeded(ConnectionBudget),
    /// The Ingress serves plain http, but the session cookie is `Secure` by default.
    IngressWithoutTls,
}

impl Finding {
    /// Event reason / condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::ConnectionBudgetExceeded(_) => "ConnectionBudgetExceeded",
            Self::PoolerClientsExceeded(_) => "PoolerClientsExceeded",
            Self::IngressWithoutTls => "IngressWithoutTls",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::ConnectionBudgetExceeded(b) => {
                let fix = match (b.pooler_server, b.fitting_pool_max()) {
                    (Some(_), _) => "lower database.pooler.serverConnections or the replica maximum, or raise the budget".to_string(),
                    (None, Some(n)) => format!("lower pool.maxConnections to {n} or fewer, put a pooler in front (database.pooler), or raise the budget"),
                    (None, None) => "lower the replica maximum, put a pooler in front (database.pooler), or raise the budget".to_string(),
                };
                format!(
                    "PostgreSQL connections at the peak: {} > database.maxConnections {}; {fix}",
                    b.postgres_arithmetic(),
                    b.granted.unwrap_or_default(),
                )
            }
            Self::PoolerClientsExceeded(b) => format!(
                "pooler client connections at the peak: {} > database.pooler.maxClientConnections {}; lower pool.maxConnections to {} or fewer, or raise the pooler's max_client_conn",
                b.pooler_arithmetic(),
                b.pooler_accepts.unwrap_or_default(),
                b.fitting_pool_max().unwrap_or(0),
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
    /// spec.limits plus spec.retention.auditDays.
    pub limits: LimitSettings,
    /// Pooler mode, text coalescing and trash retention (the direct URL travels as a Secret).
    pub scale: ScaleSettings,
    pub provider_limits: ProviderLimits,
    /// spec.volumes, spec.initContainers and spec.sidecars, checked as Kubernetes objects.
    pub volumes: Vec<Volume>,
    pub init_containers: Vec<Container>,
    pub sidecars: Vec<Container>,
    /// spec.autoscaling.metrics, checked as autoscaling/v2 MetricSpecs.
    pub hpa_metrics: Vec<MetricSpec>,
    /// spec.shutdown: the pod's grace period and the API agree on one value.
    pub shutdown: ShutdownSettings,
    /// Where the pods' database connection comes from: DATABASE_URL, or the five parts.
    pub database: Vec<PodSecret>,
    pub session_secret: SecretKey,
    /// True when the operator generates the session Secret (`<name>-session`).
    pub session_secret_generated: bool,
    pub credentials_keys: SecretKey,
    /// True when the operator generates the credentials Secret (`<name>-credentials`).
    pub credentials_keys_generated: bool,
    /// spec.worker when enabled.
    pub worker: Option<ValidatedWorker>,
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
        let database = self.database.iter().cloned().map(Some);
        database
            .chain([
                self.spec
                    .database
                    .direct_secret_ref
                    .as_ref()
                    .map(|r| PodSecret {
                        var: names::DATABASE_DIRECT_URL,
                        key: SecretKey {
                            name: r.name.clone(),
                            key: r.key.clone(),
                        },
                    }),
                Some(PodSecret {
                    var: names::SESSION_SECRET,
                    key: self.session_secret.clone(),
                }),
                Some(PodSecret {
                    var: names::CREDENTIALS_KEYS,
                    key: self.credentials_keys.clone(),
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
                referenced(
                    names::GITHUB_CLIENT_SECRET,
                    self.spec.github.as_ref().map(|g| &g.client_secret_ref),
                ),
                // The operator's own workers: the generated secret the API sends them.
                self.worker.as_ref().map(|w| PodSecret {
                    var: names::AI_WORKER_SECRET,
                    key: w.secret.clone(),
                }),
            ])
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

    /// The Secret keys the worker pods read (empty without spec.worker): the shared worker
    /// secret and the provider keys, from the same Secrets the API reads (a subset of
    /// [`Self::secret_keys`], so they are dereferenced and watched already). Only these
    /// Secrets' versions go into the workers' pod template, so rotating the session secret or
    /// the database password does not roll the workers.
    pub fn worker_secret_keys(&self) -> Vec<PodSecret> {
        let Some(w) = &self.worker else {
            return Vec::new();
        };
        let mut keys = vec![PodSecret {
            var: webedt_contract::worker::WORKER_SECRET,
            key: w.secret.clone(),
        }];
        keys.extend(
            self.secret_keys()
                .into_iter()
                .filter(|s| [names::ANTHROPIC_API_KEY, names::OPENAI_API_KEY].contains(&s.var)),
        );
        keys
    }
}

/// Every variable the operator writes itself; `spec.env` may not set them (duplicates in a
/// container's env are ambiguous, and server-side apply rejects them).
pub const OPERATOR_ENV: &[&str] = &[
    names::DATABASE_URL,
    names::DATABASE_DIRECT_URL,
    names::DB_HOST,
    names::DB_PORT,
    names::DB_NAME,
    names::DB_USER,
    names::DB_PASSWORD,
    names::DB_SSLMODE,
    names::DB_SSLROOTCERT,
    names::DB_POOLER_MODE,
    names::EVENT_TEXT_COALESCE_MS,
    names::TRASH_RETENTION_DAYS,
    names::HTTP_HEADER_TIMEOUT_MS,
    names::HTTP_BODY_TIMEOUT_MS,
    names::HTTP_MAX_CONNECTIONS,
    names::LIMIT_STREAMS_PER_USER,
    names::LIMIT_RUNS_PER_USER,
    names::LIMIT_RUNS_PER_MINUTE,
    names::LIMIT_REGISTRATIONS_PER_IP_HOUR,
    names::LIMIT_LOGIN_FAILURES_PER_ACCOUNT_IP,
    names::LIMIT_LOGIN_FAILURES_PER_IP,
    names::LIMIT_LOGIN_SLOWDOWN_AFTER,
    names::AUDIT_RETENTION_DAYS,
    names::PROVIDER_CONNECT_TIMEOUT_MS,
    names::PROVIDER_IDLE_TIMEOUT_MS,
    names::PROVIDER_HISTORY_MAX_CHARS,
    names::SESSION_SECRET,
    names::CREDENTIALS_KEYS,
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
    names::REQUIRE_USER_KEYS,
    names::ANTHROPIC_API_KEY,
    names::ANTHROPIC_BASE_URL,
    names::ANTHROPIC_MODEL,
    names::OPENAI_API_KEY,
    names::OPENAI_BASE_URL,
    names::OPENAI_MODEL,
    names::AI_WORKER_URL,
    names::AI_WORKER_SECRET,
    // spec.github; GITHUB_URL and GITHUB_API_URL only while it is set (see `validate`).
    names::GITHUB_CLIENT_ID,
    names::GITHUB_CLIENT_SECRET,
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
    let limits = spec.limits.to_settings(&spec.retention);
    limits.validate().map_err(Error::InvalidLimits)?;
    let scale = ScaleSettings {
        // A credential: the pods read it from the Secret (secret_keys), never from here.
        direct_url: None,
        pooler_mode: spec
            .database
            .pooler
            .as_ref()
            .map(|p| p.mode.contract())
            .unwrap_or_default(),
        text_coalesce_ms: spec.events.text_coalesce_ms,
        trash_retention_days: spec.retention.trash_days,
    };
    scale.validate().map_err(Error::InvalidScaleSettings)?;
    let provider_limits = spec.providers.limits();
    provider_limits
        .validate()
        .map_err(Error::InvalidProviderSettings)?;
    if spec.rollout.max_surge == 0 && spec.rollout.max_unavailable == 0 {
        return Err(Error::InvalidRollout);
    }
    let shutdown = ShutdownSettings {
        timeout_ms: spec.shutdown.timeout_ms,
        lb_drain_delay_ms: spec.shutdown.drain_delay_ms,
    };
    let volumes: Vec<Volume> = typed_list("volumes", &spec.volumes)?;
    let init_containers: Vec<Container> = typed_list("initContainers", &spec.init_containers)?;
    let sidecars: Vec<Container> = typed_list("sidecars", &spec.sidecars)?;
    let hpa_metrics: Vec<MetricSpec> =
        typed_list("autoscaling.metrics", &spec.autoscaling.metrics)?;
    check_names(&volumes, &init_containers, &sidecars, &spec)?;
    if let Some(t) = &spec.unsupported.pod_template {
        serde_json::from_value::<PodTemplateSpec>(t.clone()).map_err(|e| {
            Error::InvalidPodExtras {
                field: "unsupported.podTemplate".into(),
                message: e.to_string(),
            }
        })?;
    }
    if spec.database.pooler.is_some() && spec.database.direct_secret_ref.is_none() {
        return Err(Error::PoolerWithoutDirectUrl);
    }
    // TRUSTED_PROXY_HOPS is the operator's while it runs the Ingress; otherwise a team whose own
    // proxy fronts the Service sets it in spec.env.
    // Likewise GITHUB_URL and GITHUB_API_URL are the operator's while spec.github is set;
    // without it spec.env may still point token connections at a GitHub Enterprise Server.
    let reserved = |name: &str| {
        OPERATOR_ENV.contains(&name)
            || (spec.ingress.enabled && name == names::TRUSTED_PROXY_HOPS)
            || (spec.github.is_some() && [names::GITHUB_URL, names::GITHUB_API_URL].contains(&name))
    };
    if let Some(var) = spec.env.iter().find(|e| reserved(&e.name)) {
        return Err(Error::ReservedEnvVar {
            name: var.name.clone(),
        });
    }

    if let Some(g) = &spec.github {
        check_github(g)?;
    }
    let worker = validate_worker(&name, &spec)?;
    let database = database_secrets(&spec)?;
    if let Some(tls) = &spec.database.tls {
        let verifies = matches!(tls.ssl_mode, SslMode::VerifyCa | SslMode::VerifyFull);
        let cas =
            usize::from(tls.ca_secret_ref.is_some()) + usize::from(tls.ca_config_map_ref.is_some());
        if cas > 1 || (verifies && cas == 0) {
            return Err(Error::InvalidDatabase {
                message: "tls takes one of caSecretRef and caConfigMapRef; sslMode verify-ca and verify-full need one".into(),
            });
        }
    }
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
    let (credentials_keys, credentials_keys_generated) = match &spec.credentials.secret_ref {
        Some(r) => (
            SecretKey {
                name: r.name.clone(),
                key: r.key.clone(),
            },
            false,
        ),
        None => (
            SecretKey {
                name: credentials_secret_name(&name),
                key: CREDENTIALS_KEY.into(),
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
        limits,
        scale,
        provider_limits,
        volumes,
        init_containers,
        sidecars,
        hpa_metrics,
        shutdown,
        database,
        session_secret,
        session_secret_generated,
        credentials_keys,
        credentials_keys_generated,
        worker,
        findings: Vec::new(),
    };
    v.findings = findings(&v);
    Ok(v)
}

/// The pods' database connection: one URI, or the parts (the API percent-encodes them).
fn database_secrets(spec: &WebEDTSpec) -> Result<Vec<PodSecret>> {
    let d = &spec.database;
    let secret = |var, name: &str, key: &str| PodSecret {
        var,
        key: SecretKey {
            name: name.to_string(),
            key: key.to_string(),
        },
    };
    match (&d.secret_ref, &d.credentials_secret_ref) {
        (Some(DatabaseSecretRef { name, key }), None) => {
            Ok(vec![secret(names::DATABASE_URL, name, key)])
        }
        (None, Some(c)) => Ok(vec![
            secret(names::DB_HOST, &c.name, &c.host_key),
            secret(names::DB_PORT, &c.name, &c.port_key),
            secret(names::DB_NAME, &c.name, &c.dbname_key),
            secret(names::DB_USER, &c.name, &c.user_key),
            secret(names::DB_PASSWORD, &c.name, &c.password_key),
        ]),
        _ => Err(Error::InvalidDatabase {
            message: "needs exactly one of secretRef (a URI) and credentialsSecretRef (host, port, dbname, user, password)".into(),
        }),
    }
}

/// Items of a schemaless list as Kubernetes objects; the error names the item.
fn typed_list<T: serde::de::DeserializeOwned>(
    field: &str,
    items: &[serde_json::Value],
) -> Result<Vec<T>> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            serde_json::from_value(item.clone()).map_err(|e| Error::InvalidPodExtras {
                field: format!("{field}[{i}]"),
                message: e.to_string(),
            })
        })
        .collect()
}

/// Names must be unique within the pod and must not take the operator's own (`api`, `tmp`):
/// a duplicate would be refused by the apiserver after the Deployment was half-applied.
fn check_names(
    volumes: &[Volume],
    init: &[Container],
    sidecars: &[Container],
    spec: &WebEDTSpec,
) -> Result<()> {
    let bad = |field: &str, message: String| {
        Err(Error::InvalidPodExtras {
            field: field.into(),
            message,
        })
    };
    let mut seen = vec![crate::build::deployment::CONTAINER_NAME.to_string()];
    for (field, list) in [("initContainers", init), ("sidecars", sidecars)] {
        for c in list {
            if c.name.is_empty() || seen.contains(&c.name) {
                return bad(
                    field,
                    format!("container name `{}` is empty or already used", c.name),
                );
            }
            if c.image.as_deref().unwrap_or("").is_empty() {
                return bad(field, format!("container `{}` has no image", c.name));
            }
            seen.push(c.name.clone());
        }
    }
    let mut vols = vec![crate::build::TMP_VOLUME.to_string()];
    if spec.database.tls.is_some() {
        vols.push(crate::build::DB_CA_VOLUME.to_string());
    }
    for v in volumes {
        if v.name.is_empty() || vols.contains(&v.name) {
            return bad(
                "volumes",
                format!("volume name `{}` is empty or already used", v.name),
            );
        }
        vols.push(v.name.clone());
    }
    if let Some(m) = spec.volume_mounts.iter().find(|m| !vols.contains(&m.name)) {
        return bad(
            "volumeMounts",
            format!("mounts `{}`, which is not a volume of the pod", m.name),
        );
    }
    if let Some(m) = spec.volume_mounts.iter().find(|m| m.mount_path == "/tmp") {
        return bad(
            "volumeMounts",
            format!("`{}` mounts over /tmp, the API's own scratch space", m.name),
        );
    }
    Ok(())
}

/// spec.github by the CRD's rules (https only) and the API's own (`GithubSettings`), so an
/// offline `render` or an older CRD cannot produce pods that refuse to start.
fn check_github(g: &GithubSpec) -> Result<()> {
    let bad = |field: &'static str, message: &str| {
        Err(Error::InvalidGithub {
            field,
            message: message.into(),
        })
    };
    for (field, url) in [("url", &g.url), ("apiUrl", &g.api_url)] {
        let Some(url) = url else { continue };
        match url.strip_prefix("https://") {
            Some(host) if !host.is_empty() && !host.starts_with('/') => {}
            _ => return bad(field, "must start with https:// and name a host"),
        }
    }
    let field_of = |var: &str| match var {
        names::GITHUB_URL => "url",
        names::GITHUB_API_URL => "apiUrl",
        _ => "clientId",
    };
    // The secret's value lives in the cluster; a stand-in lets the contract check the rest.
    let env: Vec<(&'static str, String)> = [
        (names::GITHUB_CLIENT_ID, Some(g.client_id.clone())),
        (names::GITHUB_CLIENT_SECRET, Some("in-a-secret".into())),
        (names::GITHUB_URL, g.url.clone()),
        (names::GITHUB_API_URL, g.api_url.clone()),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect();
    match GithubSettings::from_env(&env) {
        Ok(_) => Ok(()),
        Err(e) => bad(field_of(e.var), &e.rule),
    }
}

/// Name of the Secret the operator generates when spec.credentials.secretRef is unset.
pub fn credentials_secret_name(name: &str) -> String {
    format!("{name}-credentials")
}

/// Name of the Secret the operator generates when spec.sessionSecret.secretRef is unset.
pub fn session_secret_name(name: &str) -> String {
    format!("{name}-session")
}

fn findings(v: &ValidatedWebEDT) -> Vec<Finding> {
    let mut out = Vec::new();
    let budget = ConnectionBudget::of(v);
    if budget.postgres_exceeded() {
        out.push(Finding::ConnectionBudgetExceeded(budget.clone()));
    }
    if budget.pooler_exceeded() {
        out.push(Finding::PoolerClientsExceeded(budget));
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

//! The `WebEDT` custom resource (`webedts.webedt.dev/v1alpha1`).
//!
//! Doc comments on these types are the schema's `description`s, which is what `kubectl explain`
//! shows, so they are written for the person editing a `WebEDT`, not for Rust readers. Defaults
//! are serde defaults, which `schemars` copies into the schema: the apiserver and an offline
//! `render` therefore fill in the same values.
//!
//! CEL rules (`x-kubernetes-validations`) sit on the type they constrain. Every string or list a
//! rule reads carries `maxLength`/`maxItems`, because the apiserver rejects rules whose estimated
//! cost is unbounded.

mod database;
mod github;
mod limits;
mod networking;
mod pod;
mod providers;
mod scaling;
mod settings;
mod status;
mod worker;

pub use database::{
    CREDENTIALS_KEY, CredentialsKeysRef, CredentialsSecretRef, CredentialsSpec, DatabaseSecretRef,
    DatabaseSpec, DatabaseTlsSpec, KeyRef, PoolerMode, PoolerSpec, SESSION_SECRET_KEY,
    SessionSecretRef, SessionSecretSpec, SslMode,
};
pub use github::GithubSpec;
pub use limits::{EventsSpec, LimitsSpec, RetentionSpec};
pub use networking::{
    IngressHost, IngressSpec, IngressTls, NetworkPolicySpec, ServiceMonitorSpec, ServiceSpec,
    ServiceType, TrafficPolicy,
};
pub use pod::{ProbeTuning, ProbesSpec, RolloutSpec, ShutdownSpec, UnsupportedSpec};
pub use providers::{DefaultProvider, ProviderSpec, ProvidersSpec, SecretKeyRef, WorkerSpec};
pub use scaling::{AutoscalingSpec, PodDisruptionBudgetSpec};
pub use settings::{MigrationMode, MigrationsSpec, OrphansSpec, PoolSpec};
pub use status::{ConditionType, WebEDTStatus};
pub use worker::WorkerDeploymentSpec;

use k8s_openapi::api::core::v1::{
    Affinity, EnvFromSource, EnvVar, LocalObjectReference, ResourceRequirements, Toleration,
    TopologySpreadConstraint, VolumeMount,
};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// API group of the resource.
pub const GROUP: &str = "webedt.dev";
/// Served and stored version.
pub const VERSION: &str = "v1alpha1";
/// Kind of the resource.
pub const KIND: &str = "WebEDT";
/// Longest `metadata.name`: the migration Job `<name>-migrate-<8 hex>` must stay a 63-character
/// DNS label (its name becomes a pod label), and the Service name must be one too.
pub const MAX_NAME_LENGTH: usize = 40;

/// Desired state of a WebEDT installation: stateless `webedt-api` pods sharing one PostgreSQL
/// database, with the Service, probes and optional Ingress, autoscaler, disruption budget,
/// network policy and Prometheus ServiceMonitor around them.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "webedt.dev",
    version = "v1alpha1",
    kind = "WebEDT",
    plural = "webedts",
    singular = "webedt",
    shortname = "wedt",
    namespaced,
    status = "WebEDTStatus",
    derive = "PartialEq",
    doc = "A WebEDT installation: stateless webedt-api pods that share one PostgreSQL database, reconciled by webedt-operator into a Deployment, Service, probes and optional Ingress, HorizontalPodAutoscaler, PodDisruptionBudget, NetworkPolicy and ServiceMonitor.",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        description = "Whether the installation serves traffic",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Replicas",
        type_ = "integer",
        description = "Pods that exist",
        json_path = ".status.replicas"
    ),
    printcolumn(
        name = "Available",
        type_ = "integer",
        description = "Pods that are available",
        json_path = ".status.availableReplicas"
    ),
    printcolumn(
        name = "Workers",
        type_ = "integer",
        description = "Coding-agent worker pods that are ready",
        json_path = ".status.workerReadyReplicas"
    ),
    printcolumn(
        name = "Image",
        type_ = "string",
        description = "Container image of the API",
        json_path = ".spec.image"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    validation = Rule::new("self.metadata.name.size() <= 40").message("metadata.name must be at most 40 characters: it prefixes the names of the Service (a 63-character DNS label) and the migration Job"),
    validation = Rule::new("self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')").message("metadata.name must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter), because the Service takes this name")
)]
#[x_kube(
    validation = Rule::new("!self.autoscaling.enabled || !has(self.resources) || (has(self.resources.requests) && 'cpu' in self.resources.requests)").message("autoscaling on CPU utilization needs resources.requests.cpu (or leave resources unset to get the default requests)").field_path(".resources"),
    validation = Rule::new("!self.autoscaling.enabled || !has(self.autoscaling.targetMemoryUtilizationPercentage) || !has(self.resources) || (has(self.resources.requests) && 'memory' in self.resources.requests)").message("autoscaling on memory utilization needs resources.requests.memory (or leave resources unset to get the default requests)").field_path(".resources"),
    validation = Rule::new("self.rollout.maxSurge > 0 || self.rollout.maxUnavailable > 0").message("rollout.maxSurge and rollout.maxUnavailable cannot both be 0: the rollout could never proceed").field_path(".rollout.maxSurge"),
    validation = Rule::new("!has(self.ingress.tls) || has(self.ingress.host)").message("ingress.tls needs ingress.host: the certificate is issued for that host").field_path(".ingress.host"),
    validation = Rule::new("!self.worker.enabled || !has(self.providers.worker)").message("worker.enabled runs the operator's own workers and points the API at them; remove providers.worker (an external worker): both would set AI_WORKER_URL").field_path(".worker.enabled"),
    validation = Rule::new("!has(self.providers.default) || self.providers.default != 'worker' || has(self.providers.worker) || self.worker.enabled").message("providers.default is worker but neither worker.enabled nor providers.worker is configured").field_path(".providers.default")
)]
#[serde(rename_all = "camelCase")]
pub struct WebEDTSpec {
    /// Number of API pods. Ignored while autoscaling is enabled (the HorizontalPodAutoscaler owns
    /// the count then). 0 stops the API without deleting anything.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: i32,

    /// Container image of webedt-api, e.g. `ghcr.io/webedt/webedt-api:1.2.3`. A change rolls the
    /// pods and (with migrations.mode=Job) first runs the new image's migrations.
    #[schemars(length(min = 1, max = 512))]
    pub image: String,

    /// When the kubelet pulls the image: Always, IfNotPresent or Never. Unset: the Kubernetes
    /// default (Always for `:latest`, IfNotPresent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = drop_null_from_enum)]
    pub image_pull_policy: Option<ImagePullPolicy>,

    /// Secrets with registry credentials for pulling the images (the API's and the workers').
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,

    /// The PostgreSQL database all replicas share.
    pub database: DatabaseSpec,

    /// The secret that keys the hashes of login tokens; every replica must use the same one.
    #[serde(default)]
    pub session_secret: SessionSecretSpec,

    /// The keys that encrypt users' connection tokens (git hosts) at rest.
    #[serde(default)]
    pub credentials: CredentialsSpec,

    /// GitHub sign-in: the OAuth App users connect their GitHub accounts with (scope `repo`)
    /// to pick repositories and open pull requests. Register it with the callback URL
    /// `https://<your host>/api/connections/github/callback`. Unset: no GitHub sign-in
    /// (personal access tokens still work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<GithubSpec>,

    /// Database connection pool of each replica.
    #[serde(default)]
    pub pool: PoolSpec,

    /// Detection of runs whose replica vanished (crash, eviction) before finishing them.
    #[serde(default)]
    pub orphans: OrphansSpec,

    /// AI providers the API can run prompts with. With none configured only the built-in `demo`
    /// provider is available.
    #[serde(default)]
    pub providers: ProvidersSpec,

    /// What one client or user may hold: connection timeouts and caps per replica, streams and
    /// runs per user, registration and login limits.
    #[serde(default)]
    pub limits: LimitsSpec,

    /// How long trashed sessions and audit entries are kept.
    #[serde(default)]
    pub retention: RetentionSpec,

    /// How runs' events are written.
    #[serde(default)]
    pub events: EventsSpec,

    /// The Service in front of the pods.
    #[serde(default)]
    pub service: ServiceSpec,

    /// An Ingress for the Service, configured for server-sent events (no response buffering,
    /// long read timeouts).
    #[serde(default)]
    pub ingress: IngressSpec,

    /// CPU and memory of the API container. Unset: requests of 100m CPU and 128Mi memory, a
    /// 512Mi memory limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Extra environment variables for the API container, e.g. ALLOWED_ORIGINS, ADMIN_EMAILS,
    /// LOG_FORMAT or COOKIE_SECURE. Variables the operator sets itself are rejected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,

    /// Variables for the API container from whole ConfigMaps or Secrets. Variables the operator
    /// sets win over these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFromSource>,

    /// Annotations added to every API pod.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_annotations: BTreeMap<String, String>,

    /// Labels added to every API pod (e.g. for a service mesh or cost allocation). The
    /// operator's own `app.kubernetes.io/*` labels win.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pod_labels: BTreeMap<String, String>,

    /// Labels added to every object the operator creates (and its pods), e.g. a team or cost
    /// centre. The operator's own `app.kubernetes.io/*` labels win.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub common_labels: BTreeMap<String, String>,

    /// ServiceAccount the API pods run as. Unset: the namespace's `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub service_account_name: Option<String>,

    /// Mount the ServiceAccount's API token into the API pods. Off by default: the API never
    /// calls the Kubernetes API, so a token would only be something to steal.
    #[serde(default)]
    pub automount_service_account_token: bool,

    /// PriorityClass of the API pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub priority_class_name: Option<String>,

    /// How the API pods spread over zones and nodes (pods' labelSelector is usually the API
    /// pods' `app.kubernetes.io/instance` and `app.kubernetes.io/component: api`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,

    /// Extra volumes of the API pods (a database CA bundle is the common case): Kubernetes
    /// Volume objects, checked by the operator.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "pod::schemaless_list")]
    pub volumes: Vec<serde_json::Value>,

    /// Where the API container mounts extra volumes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,

    /// Init containers run before the API container: Kubernetes Container objects, checked by
    /// the operator.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "pod::schemaless_list")]
    pub init_containers: Vec<serde_json::Value>,

    /// Containers run beside the API container (proxies, log shippers): Kubernetes Container
    /// objects, checked by the operator.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "pod::schemaless_list")]
    pub sidecars: Vec<serde_json::Value>,

    /// Timing of the API container's probes.
    #[serde(default)]
    pub probes: ProbesSpec,

    /// The rolling update of the API pods.
    #[serde(default)]
    pub rollout: RolloutSpec,

    /// Shutdown timing (drain delay and run timeout); the pods' grace period follows.
    #[serde(default)]
    pub shutdown: ShutdownSpec,

    /// Unsupported escape hatches.
    #[serde(default)]
    pub unsupported: UnsupportedSpec,

    /// Node labels the API pods must be scheduled on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,

    /// Taints the API pods tolerate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,

    /// Scheduling constraints of the API pods. Unset: the pods prefer distinct nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    /// A HorizontalPodAutoscaler on CPU utilization; when enabled it owns the replica count.
    #[serde(default)]
    pub autoscaling: AutoscalingSpec,

    /// A PodDisruptionBudget, so node drains keep the API serving.
    #[serde(default)]
    pub pod_disruption_budget: PodDisruptionBudgetSpec,

    /// A NetworkPolicy that admits traffic to the API port only from the listed peers.
    #[serde(default)]
    pub network_policy: NetworkPolicySpec,

    /// A Prometheus Operator ServiceMonitor scraping `/metrics`.
    #[serde(default)]
    pub service_monitor: ServiceMonitorSpec,

    /// How database migrations are applied.
    #[serde(default)]
    pub migrations: MigrationsSpec,

    /// Coding-agent workers (`webedt-worker`) run beside the API, reachable only from it.
    #[serde(default)]
    pub worker: WorkerDeploymentSpec,

    /// Stop reconciling: the operator leaves every object as it is (for manual maintenance)
    /// until this is false again.
    #[serde(default)]
    pub paused: bool,
}

/// schemars lists `null` among the values of an `Option<enum>`; the field is omitted when unset
/// (never sent as null), so the schema keeps only the real values, as `kubectl explain` shows.
pub(crate) fn drop_null_from_enum(schema: &mut schemars::Schema) {
    if let Some(serde_json::Value::Array(values)) = schema.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
}

fn default_replicas() -> i32 {
    2
}

/// When the kubelet pulls the image.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImagePullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl ImagePullPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::IfNotPresent => "IfNotPresent",
            Self::Never => "Never",
        }
    }
}

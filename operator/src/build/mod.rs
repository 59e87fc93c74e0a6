//! The desired state: pure functions from a [`ValidatedWebEDT`] and what the controller read from
//! the cluster ([`Inputs`]) to typed Kubernetes objects, one file per kind.
//!
//! Every object carries `apiVersion`/`kind` (k8s-openapi types serialize them; the dynamic
//! ServiceMonitor sets them), the `app.kubernetes.io/*` labels and a controller owner reference
//! to the `WebEDT`, so server-side apply and garbage collection work on them as they are.

mod env;
mod pod;
pub use pod::{DB_CA_FILE, DB_CA_VOLUME, TMP_VOLUME};

pub mod credentials_secret;
pub mod deployment;
pub mod hpa;
pub mod ingress;
pub mod labels;
pub mod merge;
pub mod migration_job;
pub mod network_policy;
pub mod pdb;
pub mod role;
pub mod service;
pub mod service_monitor;
pub mod session_secret;
pub mod worker_deployment;
mod worker_env;
pub mod worker_hpa;
pub mod worker_network_policy;
pub mod worker_secret;
pub mod worker_service;

pub use env::api_env;
pub use role::{ApplyPolicy, Kind, Role};
pub use worker_env::{RUNS_DIR, TMP_DIR, WORKSPACE_DIR, worker_env};

use crate::crd::{GROUP, KIND, VERSION};
use crate::error::{Error, Result};
use crate::validate::ValidatedWebEDT;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::DynamicObject;
use sha2::{Digest, Sha256};

/// Owner uid used when the `WebEDT` has none (an offline manifest in `render`). The apiserver
/// would reject it as an owner, which is the point: rendered output is for review and schema
/// checks, the controller always sets the real uid.
pub const PLACEHOLDER_UID: &str = "00000000-0000-0000-0000-000000000000";
/// Stands in for values that only exist in the cluster (`render`). Shorter than the API's
/// 32-byte minimum on purpose: a rendered session Secret applied by mistake fails loudly.
pub const PLACEHOLDER: &str = "<set-in-cluster>";
/// Pod-template annotation with the hash of the referenced Secrets' versions: a changed Secret
/// changes the template, which rolls the pods (environment variables are read once at start).
pub const SECRET_HASH_ANNOTATION: &str = "webedt.dev/secret-hash";
/// Port the API listens on, named `http` on pods and Services.
pub const HTTP_PORT: i32 = 3001;
pub const HTTP_PORT_NAME: &str = "http";

/// What the controller read from the cluster for this reconcile.
#[derive(Clone, Debug, PartialEq)]
pub struct Inputs {
    /// [`secret_hash`] of the Secrets in [`ValidatedWebEDT::referenced_secrets`].
    pub secret_hash: String,
    /// [`secret_hash`] of the Secrets in [`ValidatedWebEDT::worker_secret_keys`]: the
    /// workers' pod template rolls only for those.
    pub worker_secret_hash: String,
    /// Value for a newly generated session Secret. Only used when that Secret does not exist
    /// yet (it is create-only), so a fresh random value per reconcile is fine.
    pub new_session_secret: String,
    /// Value for a newly generated worker Secret (create-only too).
    pub new_worker_secret: String,
    /// Key list for a newly generated credentials Secret (create-only too).
    pub new_credentials_keys: String,
}

impl Inputs {
    /// Inputs for `render`: placeholders instead of cluster state.
    pub fn offline() -> Self {
        Self {
            secret_hash: PLACEHOLDER.into(),
            worker_secret_hash: PLACEHOLDER.into(),
            new_session_secret: PLACEHOLDER.into(),
            new_worker_secret: PLACEHOLDER.into(),
            new_credentials_keys: PLACEHOLDER.into(),
        }
    }
}

/// A referenced Secret's identity for [`secret_hash`]; `version` is its `resourceVersion`, or
/// any string that changes when its data changes (e.g. "missing" while it does not exist).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SecretVersion {
    pub name: String,
    pub version: String,
}

/// Stable hash of Secret versions, independent of their order.
pub fn secret_hash(versions: &[SecretVersion]) -> String {
    let mut sorted = versions.to_vec();
    sorted.sort();
    let mut h = Sha256::new();
    for s in &sorted {
        // Length prefixes keep ("ab","c") and ("a","bc") apart.
        h.update((s.name.len() as u64).to_be_bytes());
        h.update(s.name.as_bytes());
        h.update((s.version.len() as u64).to_be_bytes());
        h.update(s.version.as_bytes());
    }
    hex(&h.finalize())[..16].to_string()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One object of the desired state, by [`Role`].
#[derive(Clone, Debug, PartialEq)]
pub enum Desired {
    SessionSecret(Secret),
    CredentialsSecret(Secret),
    // Boxed: these two are several times larger than the rest.
    MigrationJob(Box<Job>),
    ApiDeployment(Box<Deployment>),
    ApiService(Service),
    PodDisruptionBudget(PodDisruptionBudget),
    HorizontalPodAutoscaler(HorizontalPodAutoscaler),
    Ingress(Ingress),
    NetworkPolicy(NetworkPolicy),
    ServiceMonitor(DynamicObject),
    WorkerSecret(Secret),
    WorkerDeployment(Box<Deployment>),
    WorkerService(Service),
    WorkerNetworkPolicy(NetworkPolicy),
    WorkerHorizontalPodAutoscaler(HorizontalPodAutoscaler),
}

impl Desired {
    pub fn role(&self) -> Role {
        match self {
            Self::SessionSecret(_) => Role::SessionSecret,
            Self::CredentialsSecret(_) => Role::CredentialsSecret,
            Self::MigrationJob(_) => Role::MigrationJob,
            Self::ApiDeployment(_) => Role::ApiDeployment,
            Self::ApiService(_) => Role::ApiService,
            Self::PodDisruptionBudget(_) => Role::PodDisruptionBudget,
            Self::HorizontalPodAutoscaler(_) => Role::HorizontalPodAutoscaler,
            Self::Ingress(_) => Role::Ingress,
            Self::NetworkPolicy(_) => Role::NetworkPolicy,
            Self::ServiceMonitor(_) => Role::ServiceMonitor,
            Self::WorkerSecret(_) => Role::WorkerSecret,
            Self::WorkerDeployment(_) => Role::WorkerDeployment,
            Self::WorkerService(_) => Role::WorkerService,
            Self::WorkerNetworkPolicy(_) => Role::WorkerNetworkPolicy,
            Self::WorkerHorizontalPodAutoscaler(_) => Role::WorkerHorizontalPodAutoscaler,
        }
    }

    pub fn policy(&self) -> ApplyPolicy {
        self.role().policy()
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Self::SessionSecret(o) => &o.metadata,
            Self::CredentialsSecret(o) => &o.metadata,
            Self::MigrationJob(o) => &o.metadata,
            Self::ApiDeployment(o) => &o.metadata,
            Self::ApiService(o) => &o.metadata,
            Self::PodDisruptionBudget(o) => &o.metadata,
            Self::HorizontalPodAutoscaler(o) => &o.metadata,
            Self::Ingress(o) => &o.metadata,
            Self::NetworkPolicy(o) => &o.metadata,
            Self::ServiceMonitor(o) => &o.metadata,
            Self::WorkerSecret(o) => &o.metadata,
            Self::WorkerDeployment(o) => &o.metadata,
            Self::WorkerService(o) => &o.metadata,
            Self::WorkerNetworkPolicy(o) => &o.metadata,
            Self::WorkerHorizontalPodAutoscaler(o) => &o.metadata,
        }
    }

    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// The object as JSON, with `apiVersion` and `kind`.
    pub fn to_json(&self) -> Result<serde_json::Value> {
        let v = match self {
            Self::SessionSecret(o) => serde_json::to_value(o),
            Self::CredentialsSecret(o) => serde_json::to_value(o),
            Self::MigrationJob(o) => serde_json::to_value(o),
            Self::ApiDeployment(o) => serde_json::to_value(o),
            Self::ApiService(o) => serde_json::to_value(o),
            Self::PodDisruptionBudget(o) => serde_json::to_value(o),
            Self::HorizontalPodAutoscaler(o) => serde_json::to_value(o),
            Self::Ingress(o) => serde_json::to_value(o),
            Self::NetworkPolicy(o) => serde_json::to_value(o),
            Self::ServiceMonitor(o) => serde_json::to_value(o),
            Self::WorkerSecret(o) => serde_json::to_value(o),
            Self::WorkerDeployment(o) => serde_json::to_value(o),
            Self::WorkerService(o) => serde_json::to_value(o),
            Self::WorkerNetworkPolicy(o) => serde_json::to_value(o),
            Self::WorkerHorizontalPodAutoscaler(o) => serde_json::to_value(o),
        };
        v.map_err(|e| Error::SerializationFailed {
            what: format!("{} {}", self.role().kind(), self.name()),
            message: e.to_string(),
        })
    }
}

/// Everything the operator wants to exist for one `WebEDT`, and the roles it wants gone.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredState {
    /// In apply order: Secret and migration Job before the Deployment that needs them.
    pub objects: Vec<Desired>,
    /// Optional roles switched off in the spec; the controller deletes their objects (those
    /// whose policy is [`ApplyPolicy::Apply`]).
    pub absent: Vec<Role>,
}

/// The desired state of one `WebEDT`.
pub fn desired(v: &ValidatedWebEDT, inputs: &Inputs) -> DesiredState {
    let mut objects = Vec::new();
    let mut absent = Vec::new();
    let mut optional = |role: Role, obj: Option<Desired>| match obj {
        Some(o) => objects.push(o),
        None => absent.push(role),
    };
    optional(
        Role::SessionSecret,
        v.session_secret_generated
            .then(|| Desired::SessionSecret(session_secret::build(v, &inputs.new_session_secret))),
    );
    optional(
        Role::CredentialsSecret,
        credentials_secret::build(v, &inputs.new_credentials_keys).map(Desired::CredentialsSecret),
    );
    optional(
        Role::MigrationJob,
        v.migrations_as_job()
            .then(|| Desired::MigrationJob(Box::new(migration_job::build(v)))),
    );
    optional(
        Role::ApiDeployment,
        Some(Desired::ApiDeployment(Box::new(deployment::build(
            v, inputs,
        )))),
    );
    optional(
        Role::ApiService,
        Some(Desired::ApiService(service::build(v))),
    );
    optional(
        Role::PodDisruptionBudget,
        pdb::build(v).map(Desired::PodDisruptionBudget),
    );
    optional(
        Role::HorizontalPodAutoscaler,
        hpa::build(v).map(Desired::HorizontalPodAutoscaler),
    );
    optional(Role::Ingress, ingress::build(v).map(Desired::Ingress));
    optional(
        Role::NetworkPolicy,
        network_policy::build(v).map(Desired::NetworkPolicy),
    );
    optional(
        Role::ServiceMonitor,
        service_monitor::build(v).map(Desired::ServiceMonitor),
    );
    // The workers: all absent while spec.worker is off, so turning it off deletes them (the
    // create-only Secret excepted, see Role::policy).
    optional(
        Role::WorkerSecret,
        worker_secret::build(v, &inputs.new_worker_secret).map(Desired::WorkerSecret),
    );
    optional(
        Role::WorkerDeployment,
        worker_deployment::build(v, inputs).map(|d| Desired::WorkerDeployment(Box::new(d))),
    );
    optional(
        Role::WorkerService,
        worker_service::build(v).map(Desired::WorkerService),
    );
    optional(
        Role::WorkerNetworkPolicy,
        worker_network_policy::build(v).map(Desired::WorkerNetworkPolicy),
    );
    optional(
        Role::WorkerHorizontalPodAutoscaler,
        worker_hpa::build(v).map(Desired::WorkerHorizontalPodAutoscaler),
    );
    DesiredState { objects, absent }
}

/// The controller owner reference every built object carries.
pub fn owner_reference(v: &ValidatedWebEDT) -> OwnerReference {
    OwnerReference {
        api_version: format!("{GROUP}/{VERSION}"),
        kind: KIND.into(),
        name: v.name.clone(),
        uid: v.uid.clone().unwrap_or_else(|| PLACEHOLDER_UID.into()),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Metadata of a built object: its role's name, namespace, labels, owner.
pub(crate) fn object_meta(v: &ValidatedWebEDT, role: Role) -> ObjectMeta {
    ObjectMeta {
        name: Some(role.name(v)),
        namespace: Some(v.namespace.clone()),
        labels: Some(object_labels(v, role.component())),
        owner_references: Some(vec![owner_reference(v)]),
        ..Default::default()
    }
}

/// spec.commonLabels with the operator's own labels over them (ours decide selection and
/// ownership, so a user label cannot change them).
pub(crate) fn object_labels(
    v: &ValidatedWebEDT,
    component: labels::Component,
) -> std::collections::BTreeMap<String, String> {
    let mut l = v.spec.common_labels.clone();
    l.extend(labels::labels(&v.name, component, image_of(v, component)));
    l
}

/// Labels of an API pod: common labels, then spec.podLabels, then the operator's own.
pub(crate) fn pod_labels(
    v: &ValidatedWebEDT,
    component: labels::Component,
) -> std::collections::BTreeMap<String, String> {
    let mut l = v.spec.common_labels.clone();
    l.extend(v.spec.pod_labels.clone());
    l.extend(labels::labels(&v.name, component, image_of(v, component)));
    l
}

/// The image whose tag is a component's `app.kubernetes.io/version`: the worker's for worker
/// objects, so an API image change never touches the workers' pod template, and vice versa.
fn image_of(v: &ValidatedWebEDT, component: labels::Component) -> &str {
    match (component, &v.worker) {
        (labels::Component::Worker, Some(w)) => &w.image,
        _ => &v.spec.image,
    }
}

//! The children of a `WebEDT`, one [`Role`] each: its object's name, Kubernetes [`Kind`],
//! `app.kubernetes.io/component` and [`ApplyPolicy`] live here and nowhere else.
//!
//! Two roles may share a kind (the API's Deployment and the workers'), so whatever is
//! looked up per object — watch caches, applied bodies, deletions — is keyed by (kind, name),
//! never by kind alone. Every match on a role or a kind is exhaustive: adding one is a compile
//! error at each place that has to handle it.

use super::labels::Component;
use super::migration_job::job_name;
use super::service_monitor;
use crate::validate::{ValidatedWebEDT, credentials_secret_name, session_secret_name};
use crate::worker::worker_name;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::ApiResource;

/// What a child object is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The generated session Secret (`<name>-session`), when the spec names none.
    SessionSecret,
    /// The generated credentials keys (`<name>-credentials`), when the spec names none.
    CredentialsSecret,
    /// `webedt-api migrate`, once per image, when migrations run as a Job.
    MigrationJob,
    /// The API pods.
    ApiDeployment,
    /// The API pods' Service.
    ApiService,
    PodDisruptionBudget,
    HorizontalPodAutoscaler,
    Ingress,
    NetworkPolicy,
    ServiceMonitor,
    /// The bearer secret API and workers share (`<name>-worker`), generated once.
    WorkerSecret,
    /// The coding-agent worker pods (spec.worker).
    WorkerDeployment,
    /// The workers' Service, the API's AI_WORKER_URL.
    WorkerService,
    /// Admits only the API pods to the workers.
    WorkerNetworkPolicy,
    /// spec.worker.autoscaling.
    WorkerHorizontalPodAutoscaler,
}

/// How the controller writes an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyPolicy {
    /// Server-side apply on every reconcile (drift is corrected); deleted when the spec no
    /// longer wants it.
    Apply,
    /// Create when absent, never update, never delete: the session Secret (re-applying would
    /// rotate it and log everyone out) and the migration Job (its pod template is immutable; a
    /// new image gets a new Job name, and old Jobs stay as a record).
    CreateOnly,
}

impl Role {
    /// The Kubernetes kind of the role's object.
    pub fn kind(self) -> Kind {
        match self {
            Self::SessionSecret | Self::CredentialsSecret => Kind::Secret,
            Self::MigrationJob => Kind::Job,
            Self::ApiDeployment => Kind::Deployment,
            Self::ApiService => Kind::Service,
            Self::PodDisruptionBudget => Kind::PodDisruptionBudget,
            Self::HorizontalPodAutoscaler => Kind::HorizontalPodAutoscaler,
            Self::Ingress => Kind::Ingress,
            Self::NetworkPolicy => Kind::NetworkPolicy,
            Self::ServiceMonitor => Kind::ServiceMonitor,
            Self::WorkerSecret => Kind::Secret,
            Self::WorkerDeployment => Kind::Deployment,
            Self::WorkerService => Kind::Service,
            Self::WorkerNetworkPolicy => Kind::NetworkPolicy,
            Self::WorkerHorizontalPodAutoscaler => Kind::HorizontalPodAutoscaler,
        }
    }

    pub fn policy(self) -> ApplyPolicy {
        match self {
            // The worker secret stays while the worker is off (the operator may not delete
            // Secrets; re-enabling reuses it) and goes with the WebEDT (owner reference).
            Self::SessionSecret
            | Self::CredentialsSecret
            | Self::MigrationJob
            | Self::WorkerSecret => ApplyPolicy::CreateOnly,
            Self::WorkerDeployment
            | Self::WorkerService
            | Self::WorkerNetworkPolicy
            | Self::WorkerHorizontalPodAutoscaler
            | Self::ApiDeployment
            | Self::ApiService
            | Self::PodDisruptionBudget
            | Self::HorizontalPodAutoscaler
            | Self::Ingress
            | Self::NetworkPolicy
            | Self::ServiceMonitor => ApplyPolicy::Apply,
        }
    }

    /// The name of the role's object for `v`.
    pub fn name(self, v: &ValidatedWebEDT) -> String {
        match self {
            Self::SessionSecret => session_secret_name(&v.name),
            Self::CredentialsSecret => credentials_secret_name(&v.name),
            Self::MigrationJob => job_name(&v.name, &v.spec.image),
            Self::ApiDeployment
            | Self::ApiService
            | Self::PodDisruptionBudget
            | Self::HorizontalPodAutoscaler
            | Self::Ingress
            | Self::NetworkPolicy
            | Self::ServiceMonitor => v.name.clone(),
            Self::WorkerSecret
            | Self::WorkerDeployment
            | Self::WorkerService
            | Self::WorkerNetworkPolicy
            | Self::WorkerHorizontalPodAutoscaler => worker_name(&v.name),
        }
    }

    /// The value of its `app.kubernetes.io/component` label.
    pub fn component(self) -> Component {
        match self {
            Self::SessionSecret => Component::SessionSecret,
            Self::CredentialsSecret => Component::CredentialsSecret,
            Self::MigrationJob => Component::Migration,
            Self::ApiDeployment
            | Self::ApiService
            | Self::PodDisruptionBudget
            | Self::HorizontalPodAutoscaler
            | Self::Ingress
            | Self::NetworkPolicy
            | Self::ServiceMonitor => Component::Api,
            Self::WorkerSecret
            | Self::WorkerDeployment
            | Self::WorkerService
            | Self::WorkerNetworkPolicy
            | Self::WorkerHorizontalPodAutoscaler => Component::Worker,
        }
    }
}

/// The Kubernetes kinds of the children.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Secret,
    Job,
    Deployment,
    Service,
    PodDisruptionBudget,
    HorizontalPodAutoscaler,
    Ingress,
    NetworkPolicy,
    ServiceMonitor,
}

impl Kind {
    /// Where the kind is served.
    pub fn api_resource(self) -> ApiResource {
        match self {
            Self::Secret => ApiResource::erase::<Secret>(&()),
            Self::Job => ApiResource::erase::<Job>(&()),
            Self::Deployment => ApiResource::erase::<Deployment>(&()),
            Self::Service => ApiResource::erase::<Service>(&()),
            Self::PodDisruptionBudget => ApiResource::erase::<PodDisruptionBudget>(&()),
            Self::HorizontalPodAutoscaler => ApiResource::erase::<HorizontalPodAutoscaler>(&()),
            Self::Ingress => ApiResource::erase::<Ingress>(&()),
            Self::NetworkPolicy => ApiResource::erase::<NetworkPolicy>(&()),
            Self::ServiceMonitor => service_monitor::api_resource(),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "Secret",
            Self::Job => "Job",
            Self::Deployment => "Deployment",
            Self::Service => "Service",
            Self::PodDisruptionBudget => "PodDisruptionBudget",
            Self::HorizontalPodAutoscaler => "HorizontalPodAutoscaler",
            Self::Ingress => "Ingress",
            Self::NetworkPolicy => "NetworkPolicy",
            Self::ServiceMonitor => service_monitor::KIND,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

//! Observed state, written by the controller (part 2).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Observed state of a WebEDT installation.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct WebEDTStatus {
    /// metadata.generation the operator last reconciled; conditions are current when it equals
    /// metadata.generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// API pods that exist (the scale subresource reads this).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// API pods passing readiness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// API pods available for at least minReadySeconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_replicas: Option<i32>,
    /// API pods running the current pod template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_replicas: Option<i32>,
    /// Label selector of the API pods, for the scale subresource (`kubectl scale`, autoscalers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Where the API is reachable: the Ingress URL when enabled, else the Service's cluster DNS
    /// name and port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Worker pods that exist (spec.worker enabled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_replicas: Option<i32>,
    /// Worker pods passing readiness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_ready_replicas: Option<i32>,
    /// Ready, Progressing and Degraded (and WorkerReady with spec.worker enabled), each with the generation it describes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// Condition types the controller writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionType {
    Ready,
    Progressing,
    Degraded,
    /// The workers run the current spec with every wanted pod available. Separate from Ready,
    /// which keeps meaning the API serves.
    WorkerReady,
}

impl ConditionType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "Ready",
            Self::Progressing => "Progressing",
            Self::Degraded => "Degraded",
            Self::WorkerReady => "WorkerReady",
        }
    }
}

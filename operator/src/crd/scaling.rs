//! Autoscaling and disruption budget.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerBehavior;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// A HorizontalPodAutoscaler on CPU utilization.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.minReplicas <= self.maxReplicas").message("autoscaling.minReplicas must be <= autoscaling.maxReplicas").field_path(".minReplicas")
)]
pub struct AutoscalingSpec {
    /// Create the autoscaler. spec.replicas is then ignored: the autoscaler owns the count.
    #[serde(default)]
    pub enabled: bool,
    /// Fewest pods.
    #[serde(default = "default_min")]
    #[schemars(range(min = 1, max = 1000))]
    pub min_replicas: i32,
    /// Most pods; with pool.maxConnections it bounds the database connections used.
    #[serde(default = "default_max")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_replicas: i32,
    /// Average CPU utilization, in percent of the CPU request, the autoscaler aims for.
    #[serde(default = "default_target", rename = "targetCPUUtilizationPercentage")]
    #[schemars(range(min = 1, max = 100))]
    pub target_cpu_utilization_percentage: i32,
    /// Average memory utilization, in percent of the memory request, the autoscaler also aims
    /// for. Unset: memory is not a scaling signal.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "targetMemoryUtilizationPercentage"
    )]
    #[schemars(range(min = 1, max = 100))]
    pub target_memory_utilization_percentage: Option<i32>,
    /// More metrics, passed through as autoscaling/v2 MetricSpecs (`Pods`, `Object`,
    /// `External`, e.g. streams per pod from a Prometheus adapter); checked by the operator.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "super::pod::schemaless_list")]
    pub metrics: Vec<serde_json::Value>,
    /// Scale-up and scale-down policies and stabilization windows (autoscaling/v2 behavior).
    /// Unset: Kubernetes' defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<HorizontalPodAutoscalerBehavior>,
}

fn default_min() -> i32 {
    2
}
fn default_max() -> i32 {
    5
}
fn default_target() -> i32 {
    80
}

impl Default for AutoscalingSpec {
    fn default() -> Self {
        Self {
            enabled: false,
            min_replicas: default_min(),
            max_replicas: default_max(),
            target_cpu_utilization_percentage: default_target(),
            target_memory_utilization_percentage: None,
            metrics: Vec::new(),
            behavior: None,
        }
    }
}

/// A PodDisruptionBudget for the API pods.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodDisruptionBudgetSpec {
    /// Create the PodDisruptionBudget.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Pods a voluntary disruption (node drain) may take down at once. At least 1, or drains
    /// would block forever.
    #[serde(default = "default_max_unavailable")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_unavailable: i32,
}

fn default_true() -> bool {
    true
}
fn default_max_unavailable() -> i32 {
    1
}

impl Default for PodDisruptionBudgetSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            max_unavailable: default_max_unavailable(),
        }
    }
}

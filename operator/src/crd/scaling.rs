//! Autoscaling and disruption budget.

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

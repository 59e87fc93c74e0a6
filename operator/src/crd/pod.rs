//! What platform teams set on the API pods beyond the API itself: identity, placement, extra
//! volumes and containers, rollout and shutdown timing, and the unsupported escape hatch.
//!
//! Pod, Container and Volume schemas are large (full ones would push the CRD past the
//! 262,144-byte `last-applied-configuration` limit of client-side apply), so volumes, init
//! containers, sidecars and the pod template patch are schemaless here
//! (`x-kubernetes-preserve-unknown-fields`) and checked by the operator instead, which reports a
//! bad one by name (`InvalidPodExtras`).

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};
use webedt_contract::ShutdownSettings;

/// A list of Kubernetes objects kept as written (checked by the operator, not the schema).
pub(crate) fn schemaless_list(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
    })
}

/// An object kept as written (checked by the operator, not the schema).
pub(crate) fn schemaless_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

/// Fields nobody should need; kept so nobody must fork the operator for one we did not foresee.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct UnsupportedSpec {
    /// UNSUPPORTED: a pod template merged last onto the API pods' template, as a strategic merge
    /// would: objects merge key by key, lists of named items (containers, initContainers,
    /// volumes, env, volumeMounts, ports) merge by `name`, other lists and scalars replace, and
    /// `null` removes a field. What it breaks is yours; the operator's own checks still apply
    /// to the result (it must still be a valid pod template).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "schemaless_object")]
    pub pod_template: Option<serde_json::Value>,
}

/// The rolling update of the API Deployment.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    /// Extra pods a rollout may start above the replica count (a number; percentages would make
    /// the connection budget depend on the count). They count in the connection budget.
    #[serde(default = "d_surge")]
    #[schemars(range(min = 0, max = 100))]
    pub max_surge: i32,
    /// Pods a rollout may take down below the replica count. 0 keeps full capacity throughout.
    #[serde(default)]
    #[schemars(range(min = 0, max = 100))]
    pub max_unavailable: i32,
    /// Seconds a new pod must be ready before it counts as available.
    #[serde(default)]
    #[schemars(range(min = 0, max = 3600))]
    pub min_ready_seconds: i32,
}

fn d_surge() -> i32 {
    1
}

impl Default for RolloutSpec {
    fn default() -> Self {
        Self {
            max_surge: d_surge(),
            max_unavailable: 0,
            min_ready_seconds: 0,
        }
    }
}

impl RolloutSpec {
    pub fn surge(&self) -> IntOrString {
        IntOrString::Int(self.max_surge)
    }
    pub fn unavailable(&self) -> IntOrString {
        IntOrString::Int(self.max_unavailable)
    }
}

/// Timing of one probe. Unset fields keep the operator's defaults.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProbeTuning {
    /// Seconds between checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3600))]
    pub period_seconds: Option<i32>,
    /// Failed checks in a row before the kubelet acts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub failure_threshold: Option<i32>,
    /// Seconds one check may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 600))]
    pub timeout_seconds: Option<i32>,
    /// Seconds after the container starts before the first check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 3600))]
    pub initial_delay_seconds: Option<i32>,
}

/// Probe timing of the API container (`/health` startup, `/live` liveness, `/ready` readiness).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProbesSpec {
    /// Startup probe on `/health` (default every 2 s, 60 failures: room for migrations).
    #[serde(default)]
    pub startup: ProbeTuning,
    /// Liveness probe on `/live` (default every 10 s, 3 failures).
    #[serde(default)]
    pub liveness: ProbeTuning,
    /// Readiness probe on `/ready` (default every 5 s, 2 failures).
    #[serde(default)]
    pub readiness: ProbeTuning,
}

/// How a pod shuts down. The pod's terminationGracePeriodSeconds is derived from these (their
/// sum plus a margin), so the kubelet never kills a pod that is still draining.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ShutdownSpec {
    /// Milliseconds a terminating pod keeps serving while load balancers stop sending to it
    /// (LB_DRAIN_DELAY_MS).
    #[serde(default = "d_drain")]
    #[schemars(range(max = 600_000))]
    pub drain_delay_ms: u64,
    /// Milliseconds runs and streams get to finish after the drain before they are cut
    /// (SHUTDOWN_TIMEOUT_MS).
    #[serde(default = "d_timeout")]
    #[schemars(range(min = 1, max = 3_600_000))]
    pub timeout_ms: u64,
}

fn d_drain() -> u64 {
    ShutdownSettings::default().lb_drain_delay_ms
}
fn d_timeout() -> u64 {
    ShutdownSettings::default().timeout_ms
}

impl Default for ShutdownSpec {
    fn default() -> Self {
        Self {
            drain_delay_ms: d_drain(),
            timeout_ms: d_timeout(),
        }
    }
}

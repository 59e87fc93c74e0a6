//! `spec.worker`: the coding-agent workers (`webedt-worker`) the operator runs beside the API.
//! Their variables come from `webedt_contract::worker`, whose defaults these are.

use super::scaling::AutoscalingSpec;
use super::{ImagePullPolicy, drop_null_from_enum};
use k8s_openapi::api::core::v1::{EnvVar, ResourceRequirements};
use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// Coding-agent workers run by the operator: a Deployment of `webedt-worker` pods behind a
/// Service that only the API pods may reach, sharing a generated secret with the API.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!self.enabled || has(self.image)").message("worker.image is required when worker.enabled is true").field_path(".image"),
    validation = Rule::new("!self.autoscaling.enabled || !has(self.resources) || (has(self.resources.requests) && 'cpu' in self.resources.requests)").message("worker.autoscaling on CPU utilization needs worker.resources.requests.cpu (or leave worker.resources unset to get the default requests)").field_path(".resources"),
    validation = Rule::new("!self.autoscaling.enabled || !has(self.autoscaling.targetMemoryUtilizationPercentage) || !has(self.resources) || (has(self.resources.requests) && 'memory' in self.resources.requests)").message("worker.autoscaling on memory utilization needs worker.resources.requests.memory (or leave worker.resources unset to get the default requests)").field_path(".resources")
)]
pub struct WorkerDeploymentSpec {
    /// Run the workers. Turning it off deletes their Deployment, Service, NetworkPolicy and
    /// autoscaler (the generated worker Secret stays until the WebEDT is deleted).
    #[serde(default)]
    pub enabled: bool,

    /// Container image of webedt-worker, e.g. `ghcr.io/webedt/webedt-worker:1.2.3` (the
    /// Dockerfile's `worker` target, or an image built FROM it with more toolchains). A change
    /// rolls only the worker pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub image: Option<String>,

    /// When the kubelet pulls the worker image. Unset: the Kubernetes default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = drop_null_from_enum)]
    pub image_pull_policy: Option<ImagePullPolicy>,

    /// Number of worker pods. Ignored while worker.autoscaling is enabled.
    #[serde(default = "d_replicas")]
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: i32,

    /// CPU and memory of the worker container. Unset: requests of 250m CPU and 512Mi memory,
    /// a 2Gi memory limit (builds and tests the model runs count here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Runs one worker pod executes at once; more get 503 (WORKER_MAX_RUNS).
    #[serde(default = "d_max_runs")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_runs: u32,

    /// Offer the model the `run_command` tool (WORKER_ALLOW_COMMANDS). Commands run confined
    /// by Landlock and seccomp; where the node's kernel or the container runtime does not
    /// offer both, commands are refused unless allowUnconfined is true.
    #[serde(default)]
    pub allow_commands: bool,

    /// Let commands open network sockets (WORKER_ALLOW_NETWORK); otherwise only Unix sockets.
    /// The pods' own egress (git, AI providers) is not limited by the operator.
    #[serde(default)]
    pub allow_network: bool,

    /// Run commands even where Landlock or seccomp is unavailable (WORKER_ALLOW_UNCONFINED).
    /// Only for nodes without them whose pods are isolated some other way (gVisor, Kata).
    #[serde(default)]
    pub allow_unconfined: bool,

    /// Size limit of each worker pod's workspace, an `emptyDir` holding the runs' checkouts,
    /// HOME and TMPDIR (a Kubernetes quantity: `8Gi`, `500Mi`). Each run may use an equal
    /// share (WORKER_DISK_MAX_BYTES = sizeLimit / maxRuns), so one run cannot get the pod
    /// evicted for all of them.
    #[serde(default = "d_workspace")]
    #[schemars(length(min = 1, max = 32), pattern(r"^[1-9][0-9]*(Ki|Mi|Gi|Ti)?$"))]
    pub workspace_size_limit: String,

    /// A HorizontalPodAutoscaler for the workers; when enabled it owns their count.
    #[serde(default)]
    pub autoscaling: AutoscalingSpec,

    /// Extra environment variables for the worker container (e.g. WORKER_MAX_TURNS,
    /// WORKER_GIT_PROTOCOLS, RUST_LOG). Variables the operator sets itself are rejected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
}

fn d_replicas() -> i32 {
    1
}
fn d_max_runs() -> u32 {
    4
}
fn d_workspace() -> String {
    "8Gi".into()
}

impl Default for WorkerDeploymentSpec {
    fn default() -> Self {
        Self {
            enabled: false,
            image: None,
            image_pull_policy: None,
            replicas: d_replicas(),
            resources: None,
            max_runs: d_max_runs(),
            allow_commands: false,
            allow_network: false,
            allow_unconfined: false,
            workspace_size_limit: d_workspace(),
            autoscaling: AutoscalingSpec::default(),
            env: Vec::new(),
        }
    }
}

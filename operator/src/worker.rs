//! `spec.worker` checked into [`ValidatedWorker`], the part of
//! [`crate::validate::ValidatedWebEDT`] the worker builders read. The CRD's CEL rules state the
//! same conditions; they are checked again for `render` (offline) and for CRDs older than the
//! operator, and every error names the `spec.worker` field at fault.

use crate::crd::{ImagePullPolicy, WebEDTSpec};
use crate::error::{Error, Result};
use crate::validate::SecretKey;
use k8s_openapi::api::autoscaling::v2::MetricSpec;
use k8s_openapi::api::core::v1::{EnvVar, ResourceRequirements};
use webedt_contract::worker as contract;

/// Port the workers listen on (WORKER_PORT), named `http` on pods and their Service.
pub const WORKER_PORT: i32 = 8090;
/// Key of the shared worker secret in the Secret the operator generates.
pub const WORKER_SECRET_KEY: &str = "secret";
/// Smallest per-run disk share the worker accepts (its WORKER_DISK_MAX_BYTES minimum).
const MIN_DISK_PER_RUN: u64 = 1 << 20;

/// Variables the operator writes into the worker container itself; spec.worker.env may not set
/// them.
pub const OPERATOR_WORKER_ENV: &[&str] = &[
    contract::WORKER_SECRET,
    contract::WORKER_HOST,
    contract::WORKER_PORT,
    contract::WORKER_WORKSPACE_ROOT,
    contract::WORKER_MAX_RUNS,
    contract::WORKER_DISK_MAX_BYTES,
    contract::WORKER_ALLOW_COMMANDS,
    contract::WORKER_ALLOW_UNCONFINED,
    contract::WORKER_ALLOW_NETWORK,
    contract::WORKER_SHUTDOWN_TIMEOUT_MS,
    "HOME",
    "TMPDIR",
    webedt_contract::names::ANTHROPIC_API_KEY,
    webedt_contract::names::ANTHROPIC_BASE_URL,
    webedt_contract::names::ANTHROPIC_MODEL,
    webedt_contract::names::OPENAI_API_KEY,
    webedt_contract::names::OPENAI_BASE_URL,
    webedt_contract::names::OPENAI_MODEL,
    webedt_contract::names::PROVIDER_CONNECT_TIMEOUT_MS,
    webedt_contract::names::PROVIDER_IDLE_TIMEOUT_MS,
];

/// The checked spec.worker of an enabled worker.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedWorker {
    pub image: String,
    pub image_pull_policy: Option<ImagePullPolicy>,
    pub replicas: i32,
    pub resources: Option<ResourceRequirements>,
    pub max_runs: u32,
    pub allow_commands: bool,
    pub allow_network: bool,
    pub allow_unconfined: bool,
    /// The emptyDir sizeLimit as written (`8Gi`).
    pub workspace_size_limit: String,
    /// WORKER_DISK_MAX_BYTES: the workspace split evenly among the runs.
    pub disk_per_run_bytes: u64,
    pub autoscaling: crate::crd::AutoscalingSpec,
    /// spec.worker.autoscaling.metrics as autoscaling/v2 MetricSpecs.
    pub hpa_metrics: Vec<MetricSpec>,
    pub env: Vec<EnvVar>,
    /// The generated Secret holding the bearer secret API and workers share.
    pub secret: SecretKey,
}

impl ValidatedWorker {
    /// Pods at the autoscaler's maximum, or spec.worker.replicas.
    pub fn peak_replicas(&self) -> i32 {
        if self.autoscaling.enabled {
            self.autoscaling.max_replicas
        } else {
            self.replicas
        }
    }
}

/// Name of the generated worker Secret, Deployment, Service, NetworkPolicy and autoscaler.
pub fn worker_name(name: &str) -> String {
    format!("{name}-worker")
}

/// `spec.worker` of the WebEDT `name`: None when disabled.
pub fn validate_worker(name: &str, spec: &WebEDTSpec) -> Result<Option<ValidatedWorker>> {
    let w = &spec.worker;
    if !w.enabled {
        return Ok(None);
    }
    let bad = |field: &'static str, message: String| Err(Error::InvalidWorker { field, message });
    let Some(image) = w.image.clone().filter(|i| !i.is_empty()) else {
        return bad("image", "is required when worker.enabled is true".into());
    };
    if spec.providers.worker.is_some() {
        return bad(
            "enabled",
            "the operator's own workers replace providers.worker (an external worker): remove one, both would set AI_WORKER_URL".into(),
        );
    }
    if !(0..=1000).contains(&w.replicas) {
        return bad("replicas", format!("{} is not within 0..=1000", w.replicas));
    }
    if !(1..=1000).contains(&w.max_runs) {
        return bad("maxRuns", format!("{} is not within 1..=1000", w.max_runs));
    }
    let a = &w.autoscaling;
    if a.enabled && a.min_replicas > a.max_replicas {
        return bad(
            "autoscaling.minReplicas",
            format!(
                "{} must be <= worker.autoscaling.maxReplicas ({})",
                a.min_replicas, a.max_replicas
            ),
        );
    }
    let Some(workspace_bytes) = quantity_bytes(&w.workspace_size_limit) else {
        return bad(
            "workspaceSizeLimit",
            format!(
                "`{}` is not a whole quantity such as 8Gi or 500Mi",
                w.workspace_size_limit
            ),
        );
    };
    let disk_per_run_bytes = workspace_bytes / u64::from(w.max_runs);
    if disk_per_run_bytes < MIN_DISK_PER_RUN {
        return bad(
            "workspaceSizeLimit",
            format!(
                "`{}` leaves each of the {} runs less than 1Mi",
                w.workspace_size_limit, w.max_runs
            ),
        );
    }
    if let Some(e) = w
        .env
        .iter()
        .find(|e| OPERATOR_WORKER_ENV.contains(&e.name.as_str()))
    {
        return bad(
            "env",
            format!("sets {}, which the operator manages", e.name),
        );
    }
    let hpa_metrics = w
        .autoscaling
        .metrics
        .iter()
        .enumerate()
        .map(|(i, m)| {
            serde_json::from_value(m.clone()).map_err(|e| Error::InvalidWorker {
                field: "autoscaling.metrics",
                message: format!("item {i}: {e}"),
            })
        })
        .collect::<Result<Vec<MetricSpec>>>()?;
    Ok(Some(ValidatedWorker {
        image,
        image_pull_policy: w.image_pull_policy,
        replicas: w.replicas,
        resources: w.resources.clone(),
        max_runs: w.max_runs,
        allow_commands: w.allow_commands,
        allow_network: w.allow_network,
        allow_unconfined: w.allow_unconfined,
        workspace_size_limit: w.workspace_size_limit.clone(),
        disk_per_run_bytes,
        autoscaling: w.autoscaling.clone(),
        hpa_metrics,
        env: w.env.clone(),
        secret: SecretKey {
            name: worker_name(name),
            key: WORKER_SECRET_KEY.into(),
        },
    }))
}

/// Bytes of a whole binary quantity (`8Gi`, `500Mi`, `1048576`), the forms the CRD's pattern
/// admits; None for anything else or on overflow.
pub fn quantity_bytes(q: &str) -> Option<u64> {
    let (digits, shift) = match q.len().checked_sub(2).map(|i| q.split_at(i)) {
        Some((d, "Ki")) => (d, 10),
        Some((d, "Mi")) => (d, 20),
        Some((d, "Gi")) => (d, 30),
        Some((d, "Ti")) => (d, 40),
        _ => (q, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1u64 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_in_bytes() {
        assert_eq!(quantity_bytes("8Gi"), Some(8 << 30));
        assert_eq!(quantity_bytes("500Mi"), Some(500 << 20));
        assert_eq!(quantity_bytes("3Ki"), Some(3 << 10));
        assert_eq!(quantity_bytes("1048576"), Some(1 << 20));
        for bad in ["", "Gi", "8G", "1.5Gi", "-1Mi", "99999999999999Ti"] {
            assert_eq!(quantity_bytes(bad), None, "{bad}");
        }
    }
}

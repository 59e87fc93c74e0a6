//! The workers' Deployment: `webedt-worker` pods, non-root with a read-only root filesystem,
//! no ServiceAccount token, and everything they write (runs, HOME, TMPDIR) on a size-limited
//! `emptyDir`. Its pod template depends only on spec.worker, the provider settings and the
//! workers' own Secrets, so an API change never rolls the workers and a worker change never
//! rolls the API.

use super::labels::{self, Component};
use super::pod::{self, non_empty_vec};
use super::worker_env::{SHUTDOWN_TIMEOUT_MS, TMP_DIR, WORKSPACE_DIR, worker_env};
use super::{HTTP_PORT_NAME, Inputs, Role, SECRET_HASH_ANNOTATION, object_labels, object_meta};
use crate::validate::ValidatedWebEDT;
use crate::worker::{ValidatedWorker, WORKER_PORT};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerPort, EmptyDirVolumeSource, HTTPGetAction, PodAffinityTerm,
    PodAntiAffinity, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, Volume, VolumeMount,
    WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

pub const CONTAINER_NAME: &str = "worker";
pub const WORKSPACE_VOLUME: &str = "workspace";
/// Slack on top of the worker's own shutdown timeout before the kubelet sends SIGKILL.
const GRACE_MARGIN_SECONDS: i64 = 10;

fn probe(path: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(HTTP_PORT_NAME.into()),
            scheme: Some("HTTP".into()),
            ..Default::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(2),
        ..Default::default()
    }
}

/// None without spec.worker.
pub fn build(v: &ValidatedWebEDT, inputs: &Inputs) -> Option<Deployment> {
    let w = v.worker.as_ref()?;
    let selector = labels::selector(&v.name, Component::Worker);
    let container = Container {
        name: CONTAINER_NAME.into(),
        image: Some(w.image.clone()),
        image_pull_policy: w.image_pull_policy.map(|p| p.as_str().into()),
        ports: Some(vec![ContainerPort {
            name: Some(HTTP_PORT_NAME.into()),
            container_port: WORKER_PORT,
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        env: Some(worker_env(v, w)),
        // The worker probes Landlock and seccomp and cleans the workspace before it listens.
        startup_probe: Some(probe("/live", 2, 30)),
        liveness_probe: Some(probe("/live", 10, 3)),
        // /ready fails while draining, so a terminating worker gets no new runs.
        readiness_probe: Some(probe("/ready", 5, 2)),
        resources: Some(resources(w)),
        security_context: Some(pod::container_security_context()),
        volume_mounts: Some(vec![
            VolumeMount {
                name: WORKSPACE_VOLUME.into(),
                mount_path: WORKSPACE_DIR.into(),
                ..Default::default()
            },
            VolumeMount {
                name: WORKSPACE_VOLUME.into(),
                mount_path: TMP_DIR.into(),
                sub_path: Some("tmp".into()),
                ..Default::default()
            },
        ]),
        ..Default::default()
    };
    Some(Deployment {
        metadata: object_meta(v, Role::WorkerDeployment),
        spec: DeploymentSpec {
            replicas: (!w.autoscaling.enabled).then_some(w.replicas),
            selector: LabelSelector {
                match_labels: Some(selector.clone()),
                match_expressions: None,
            },
            // A new worker before an old one drains: running runs finish within the grace
            // period while new runs already land on the new pod.
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString::Int(0)),
                    max_surge: Some(IntOrString::Int(1)),
                }),
            }),
            revision_history_limit: Some(5),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(object_labels(v, Component::Worker)),
                    annotations: Some(BTreeMap::from([(
                        SECRET_HASH_ANNOTATION.to_string(),
                        inputs.worker_secret_hash.clone(),
                    )])),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    volumes: Some(vec![Volume {
                        name: WORKSPACE_VOLUME.into(),
                        empty_dir: Some(EmptyDirVolumeSource {
                            medium: None,
                            mode: None,
                            size_limit: Some(Quantity(w.workspace_size_limit.clone())),
                        }),
                        ..Default::default()
                    }]),
                    security_context: Some(pod::pod_security_context()),
                    termination_grace_period_seconds: Some(
                        (SHUTDOWN_TIMEOUT_MS / 1000) as i64 + GRACE_MARGIN_SECONDS,
                    ),
                    // Workers run model-written commands: no Kubernetes credentials at all.
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    image_pull_secrets: non_empty_vec(&v.spec.image_pull_secrets),
                    affinity: Some(spread(selector)),
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        status: None,
    })
}

/// spec.worker.resources, or defaults sized for builds and tests the model runs.
fn resources(w: &ValidatedWorker) -> ResourceRequirements {
    w.resources.clone().unwrap_or_else(|| ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), Quantity("250m".into())),
            ("memory".to_string(), Quantity("512Mi".into())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_string(),
            Quantity("2Gi".into()),
        )])),
        claims: None,
    })
}

/// Workers prefer distinct nodes, so one node failure does not take every worker.
fn spread(selector: BTreeMap<String, String>) -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: PodAffinityTerm {
                        topology_key: "kubernetes.io/hostname".into(),
                        label_selector: Some(LabelSelector {
                            match_labels: Some(selector),
                            match_expressions: None,
                        }),
                        ..Default::default()
                    },
                },
            ]),
            required_during_scheduling_ignored_during_execution: None,
        }),
        ..Default::default()
    }
}

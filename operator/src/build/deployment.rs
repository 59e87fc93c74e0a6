//! The API Deployment.

use super::labels::{self, Component};
use super::pod::{self, non_empty, non_empty_vec};
use super::{
    HTTP_PORT, HTTP_PORT_NAME, Inputs, Role, SECRET_HASH_ANNOTATION, api_env, object_meta,
};
use crate::validate::ValidatedWebEDT;
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, HTTPGetAction, PodSpec, PodTemplateSpec, Probe,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use webedt_contract::ShutdownSettings;

pub const CONTAINER_NAME: &str = "api";
/// Slack on top of the API's own longest shutdown before the kubelet sends SIGKILL.
pub const GRACE_MARGIN_SECONDS: i64 = 10;

/// Grace period strictly above the API's drain delay + shutdown timeout.
pub fn termination_grace_period_seconds(s: &ShutdownSettings) -> i64 {
    (s.total_ms().div_ceil(1000)) as i64 + GRACE_MARGIN_SECONDS
}

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

pub fn build(v: &ValidatedWebEDT, inputs: &Inputs) -> Deployment {
    let spec = &v.spec;
    let mut annotations = spec.pod_annotations.clone();
    // Ours wins over a user annotation of the same key: it is what rolls pods on Secret change.
    annotations.insert(SECRET_HASH_ANNOTATION.into(), inputs.secret_hash.clone());

    let container = Container {
        name: CONTAINER_NAME.into(),
        image: Some(spec.image.clone()),
        image_pull_policy: spec.image_pull_policy.map(|p| p.as_str().into()),
        ports: Some(vec![ContainerPort {
            name: Some(HTTP_PORT_NAME.into()),
            container_port: HTTP_PORT,
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        env: Some(api_env(v)),
        // /health answers once the process serves; 60 × 2 s leaves room for OnStartup
        // migrations before liveness takes over.
        startup_probe: Some(probe("/health", 2, 60)),
        liveness_probe: Some(probe("/live", 10, 3)),
        readiness_probe: Some(probe("/ready", 5, 2)),
        resources: Some(pod::resources(v)),
        security_context: Some(pod::container_security_context()),
        volume_mounts: Some(vec![pod::tmp_mount()]),
        ..Default::default()
    };

    Deployment {
        metadata: object_meta(v, Role::ApiDeployment),
        spec: DeploymentSpec {
            // The HorizontalPodAutoscaler owns the count when enabled; setting it here would
            // fight it on every reconcile.
            replicas: (!spec.autoscaling.enabled).then_some(spec.replicas),
            selector: LabelSelector {
                match_labels: Some(labels::selector(&v.name, Component::Api)),
                match_expressions: None,
            },
            // Never below the wanted count during a rollout: one extra pod at a time.
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
                    labels: Some(labels::labels(&v.name, Component::Api, &spec.image)),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    volumes: Some(vec![pod::tmp_volume()]),
                    security_context: Some(pod::pod_security_context()),
                    termination_grace_period_seconds: Some(termination_grace_period_seconds(
                        &v.shutdown,
                    )),
                    // The API never calls the Kubernetes API.
                    automount_service_account_token: Some(false),
                    // Service links would add a variable per Service in the namespace.
                    enable_service_links: Some(false),
                    image_pull_secrets: non_empty_vec(&spec.image_pull_secrets),
                    node_selector: non_empty(&spec.node_selector),
                    tolerations: non_empty_vec(&spec.tolerations),
                    affinity: Some(pod::affinity(v)),
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        status: None,
    }
}

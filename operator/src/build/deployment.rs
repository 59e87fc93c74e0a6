//! The API Deployment.

use super::labels::{self, Component};
use super::pod::{self, non_empty, non_empty_vec};
use super::{
    HTTP_PORT, HTTP_PORT_NAME, Inputs, Role, SECRET_HASH_ANNOTATION, api_env, object_meta,
    pod_labels,
};
use crate::crd::ProbeTuning;
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

/// A probe with the operator's timing, overridden field by field by spec.probes.
fn probe(path: &str, period: i32, failures: i32, tuning: &ProbeTuning) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(HTTP_PORT_NAME.into()),
            scheme: Some("HTTP".into()),
            ..Default::default()
        }),
        period_seconds: Some(tuning.period_seconds.unwrap_or(period)),
        failure_threshold: Some(tuning.failure_threshold.unwrap_or(failures)),
        timeout_seconds: Some(tuning.timeout_seconds.unwrap_or(2)),
        initial_delay_seconds: tuning.initial_delay_seconds,
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
        env_from: non_empty_vec(&spec.env_from),
        // /health answers once the process serves; 60 × 2 s leaves room for OnStartup
        // migrations before liveness takes over.
        startup_probe: Some(probe("/health", 2, 60, &spec.probes.startup)),
        liveness_probe: Some(probe("/live", 10, 3, &spec.probes.liveness)),
        readiness_probe: Some(probe("/ready", 5, 2, &spec.probes.readiness)),
        resources: Some(pod::resources(v)),
        security_context: Some(pod::container_security_context()),
        volume_mounts: Some(pod::volume_mounts(v)),
        ..Default::default()
    };
    let mut containers = vec![container];
    containers.extend(v.sidecars.iter().cloned());

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
            // By default never below the wanted count during a rollout: one extra pod at a
            // time. The surge counts in the connection budget.
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(spec.rollout.unavailable()),
                    max_surge: Some(spec.rollout.surge()),
                }),
            }),
            min_ready_seconds: (spec.rollout.min_ready_seconds > 0)
                .then_some(spec.rollout.min_ready_seconds),
            revision_history_limit: Some(5),
            template: merge_unsupported(
                v,
                PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(pod_labels(v, Component::Api)),
                        annotations: Some(annotations),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec {
                        containers,
                        init_containers: non_empty_vec(&v.init_containers),
                        volumes: Some(pod::volumes(v)),
                        security_context: Some(pod::pod_security_context()),
                        termination_grace_period_seconds: Some(termination_grace_period_seconds(
                            &v.shutdown,
                        )),
                        // The API never calls the Kubernetes API: no token unless asked for.
                        automount_service_account_token: Some(spec.automount_service_account_token),
                        service_account_name: spec.service_account_name.clone(),
                        priority_class_name: spec.priority_class_name.clone(),
                        topology_spread_constraints: non_empty_vec(
                            &spec.topology_spread_constraints,
                        ),
                        // Service links would add a variable per Service in the namespace.
                        enable_service_links: Some(false),
                        image_pull_secrets: non_empty_vec(&spec.image_pull_secrets),
                        node_selector: non_empty(&spec.node_selector),
                        tolerations: non_empty_vec(&spec.tolerations),
                        affinity: Some(pod::affinity(v)),
                        ..Default::default()
                    }),
                },
            ),
            ..Default::default()
        },
        status: None,
    }
}

/// spec.unsupported.podTemplate merged last ([`super::merge`]). validate() checked that the
/// patch is a pod template; a merge of two pod templates is one, so the fallback to the
/// unmerged template is not expected to run.
fn merge_unsupported(v: &ValidatedWebEDT, template: PodTemplateSpec) -> PodTemplateSpec {
    let Some(patch) = &v.spec.unsupported.pod_template else {
        return template;
    };
    let Ok(mut value) = serde_json::to_value(&template) else {
        return template;
    };
    super::merge::merge(&mut value, patch);
    serde_json::from_value(value).unwrap_or(template)
}

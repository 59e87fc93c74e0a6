//! The HorizontalPodAutoscaler (autoscaling/v2): CPU, optionally memory and custom metrics.

use super::{Role, object_meta};
use crate::validate::ValidatedWebEDT;
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};

pub fn build(v: &ValidatedWebEDT) -> Option<HorizontalPodAutoscaler> {
    let a = &v.spec.autoscaling;
    if !a.enabled {
        return None;
    }
    Some(HorizontalPodAutoscaler {
        metadata: object_meta(v, Role::HorizontalPodAutoscaler),
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: Role::ApiDeployment.kind().to_string(),
                name: Role::ApiDeployment.name(v),
            },
            min_replicas: Some(a.min_replicas),
            max_replicas: a.max_replicas,
            metrics: Some(metrics(v)),
            behavior: a.behavior.clone(),
        },
        status: None,
    })
}

fn utilization(resource: &str, percent: i32) -> MetricSpec {
    MetricSpec {
        type_: "Resource".into(),
        resource: Some(ResourceMetricSource {
            name: resource.into(),
            target: MetricTarget {
                type_: "Utilization".into(),
                average_utilization: Some(percent),
                ..Default::default()
            },
        }),
        ..Default::default()
    }
}

/// CPU always (the requests the operator defaults are sized for it), memory when asked, then
/// the spec's own metrics; the autoscaler follows whichever wants the most pods.
fn metrics(v: &ValidatedWebEDT) -> Vec<MetricSpec> {
    let a = &v.spec.autoscaling;
    let mut m = vec![utilization("cpu", a.target_cpu_utilization_percentage)];
    if let Some(p) = a.target_memory_utilization_percentage {
        m.push(utilization("memory", p));
    }
    m.extend(v.hpa_metrics.iter().cloned());
    m
}

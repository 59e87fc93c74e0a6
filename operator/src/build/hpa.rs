//! The HorizontalPodAutoscalers (autoscaling/v2): CPU, optionally memory and custom metrics.
//! [`build`] is the API's; [`autoscaler`] is shared with the workers' (`worker_hpa`).

use super::{Role, object_meta};
use crate::crd::AutoscalingSpec;
use crate::validate::ValidatedWebEDT;
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};

pub fn build(v: &ValidatedWebEDT) -> Option<HorizontalPodAutoscaler> {
    v.spec.autoscaling.enabled.then(|| {
        autoscaler(
            v,
            Role::HorizontalPodAutoscaler,
            Role::ApiDeployment,
            &v.spec.autoscaling,
            &v.hpa_metrics,
        )
    })
}

/// The autoscaler of role `role` scaling the Deployment of role `target`.
pub(crate) fn autoscaler(
    v: &ValidatedWebEDT,
    role: Role,
    target: Role,
    a: &AutoscalingSpec,
    extra: &[MetricSpec],
) -> HorizontalPodAutoscaler {
    HorizontalPodAutoscaler {
        metadata: object_meta(v, role),
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: target.kind().to_string(),
                name: target.name(v),
            },
            min_replicas: Some(a.min_replicas),
            max_replicas: a.max_replicas,
            metrics: Some(metrics(a, extra)),
            behavior: a.behavior.clone(),
        },
        status: None,
    }
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
fn metrics(a: &AutoscalingSpec, extra: &[MetricSpec]) -> Vec<MetricSpec> {
    let mut m = vec![utilization("cpu", a.target_cpu_utilization_percentage)];
    if let Some(p) = a.target_memory_utilization_percentage {
        m.push(utilization("memory", p));
    }
    m.extend(extra.iter().cloned());
    m
}

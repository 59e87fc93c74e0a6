//! The HorizontalPodAutoscaler (autoscaling/v2) on CPU utilization.

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
            metrics: Some(vec![MetricSpec {
                type_: "Resource".into(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".into(),
                    target: MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(a.target_cpu_utilization_percentage),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }]),
            behavior: None,
        },
        status: None,
    })
}

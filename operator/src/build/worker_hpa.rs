//! The workers' HorizontalPodAutoscaler (spec.worker.autoscaling), built like the API's.

use super::Role;
use super::hpa::autoscaler;
use crate::validate::ValidatedWebEDT;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;

pub fn build(v: &ValidatedWebEDT) -> Option<HorizontalPodAutoscaler> {
    let w = v.worker.as_ref().filter(|w| w.autoscaling.enabled)?;
    Some(autoscaler(
        v,
        Role::WorkerHorizontalPodAutoscaler,
        Role::WorkerDeployment,
        &w.autoscaling,
        &w.hpa_metrics,
    ))
}

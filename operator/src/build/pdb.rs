//! The PodDisruptionBudget: node drains take at most `maxUnavailable` API pods at once.

use super::labels::{self, Component};
use super::{Role, object_meta};
use crate::validate::ValidatedWebEDT;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub fn build(v: &ValidatedWebEDT) -> Option<PodDisruptionBudget> {
    let p = &v.spec.pod_disruption_budget;
    if !p.enabled {
        return None;
    }
    Some(PodDisruptionBudget {
        metadata: object_meta(v, Role::PodDisruptionBudget),
        spec: Some(PodDisruptionBudgetSpec {
            // maxUnavailable (not minAvailable) keeps working at any replica count, including
            // one, and while the autoscaler changes the count.
            max_unavailable: Some(IntOrString::Int(p.max_unavailable)),
            selector: Some(LabelSelector {
                match_labels: Some(labels::selector(&v.name, Component::Api)),
                match_expressions: None,
            }),
            // Evict pods that are not ready yet even when the budget is used up: they serve
            // nothing, and a stuck rollout must not block a drain.
            unhealthy_pod_eviction_policy: Some("AlwaysAllow".into()),
            ..Default::default()
        }),
        status: None,
    })
}

//! The NetworkPolicy: only the listed peers reach the API port. Egress stays open (database,
//! AI providers, DNS).

use super::labels::{self, Component};
use super::{HTTP_PORT, Role, object_meta};
use crate::validate::ValidatedWebEDT;
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub fn build(v: &ValidatedWebEDT) -> Option<NetworkPolicy> {
    let n = &v.spec.network_policy;
    if !n.enabled {
        return None;
    }
    let from = if n.allow_from.is_empty() {
        // Default: every pod of the same namespace (an empty podSelector).
        vec![NetworkPolicyPeer {
            pod_selector: Some(LabelSelector::default()),
            ..Default::default()
        }]
    } else {
        n.allow_from.clone()
    };
    Some(NetworkPolicy {
        metadata: object_meta(v, Role::NetworkPolicy),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(labels::selector(&v.name, Component::Api)),
                match_expressions: None,
            }),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(from),
                ports: Some(vec![NetworkPolicyPort {
                    port: Some(IntOrString::Int(HTTP_PORT)),
                    protocol: Some("TCP".into()),
                    end_port: None,
                }]),
            }]),
            egress: None,
        }),
    })
}

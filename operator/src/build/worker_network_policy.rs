//! The workers' NetworkPolicy: only this WebEDT's API pods reach the worker port. Always
//! created with the workers (they run model-written commands, so nothing else should talk to
//! them). Egress is left to the team: the workers need git remotes, AI providers and DNS,
//! whose addresses only the team knows (README: "Workers on Kubernetes").

use super::labels::{self, Component};
use super::{Role, object_meta};
use crate::validate::ValidatedWebEDT;
use crate::worker::WORKER_PORT;
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub fn build(v: &ValidatedWebEDT) -> Option<NetworkPolicy> {
    v.worker.as_ref()?;
    let selector = |component| LabelSelector {
        match_labels: Some(labels::selector(&v.name, component)),
        match_expressions: None,
    };
    Some(NetworkPolicy {
        metadata: object_meta(v, Role::WorkerNetworkPolicy),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(Component::Worker)),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![NetworkPolicyPeer {
                    pod_selector: Some(selector(Component::Api)),
                    ..Default::default()
                }]),
                ports: Some(vec![NetworkPolicyPort {
                    port: Some(IntOrString::Int(WORKER_PORT)),
                    protocol: Some("TCP".into()),
                    end_port: None,
                }]),
            }]),
            egress: None,
        }),
    })
}

//! Service, Ingress, NetworkPolicy and ServiceMonitor options.

use k8s_openapi::api::networking::v1::NetworkPolicyPeer;
use kube::KubeSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The Service in front of the API pods.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.loadBalancerSourceRanges) || self.loadBalancerSourceRanges.size() == 0 || self.type == 'LoadBalancer'").message("service.loadBalancerSourceRanges applies only to type LoadBalancer").field_path(".loadBalancerSourceRanges"),
    validation = Rule::new("!has(self.externalTrafficPolicy) || self.type != 'ClusterIP'").message("service.externalTrafficPolicy applies only to types NodePort and LoadBalancer").field_path(".externalTrafficPolicy")
)]
pub struct ServiceSpec {
    /// ClusterIP, NodePort or LoadBalancer.
    #[serde(default, rename = "type")]
    pub type_: ServiceType,
    /// Port the Service listens on; it forwards to the pods' `http` port (3001).
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    /// Annotations of the Service, e.g. a cloud load balancer's
    /// (`service.beta.kubernetes.io/aws-load-balancer-scheme`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// `Local` keeps the client's source IP (and skips a node hop) for NodePort and
    /// LoadBalancer Services; `Cluster` spreads evenly but the pods see a node's IP. Unset:
    /// Kubernetes' default (`Cluster`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = super::drop_null_from_enum)]
    pub external_traffic_policy: Option<TrafficPolicy>,
    /// CIDRs allowed to reach a LoadBalancer Service, e.g. `["203.0.113.0/24"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub load_balancer_source_ranges: Vec<String>,
}

/// Routing of external traffic to the pods.
#[derive(schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrafficPolicy {
    Cluster,
    Local,
}

fn default_port() -> i32 {
    80
}

impl Default for ServiceSpec {
    fn default() -> Self {
        Self {
            type_: ServiceType::default(),
            port: default_port(),
            annotations: BTreeMap::new(),
            external_traffic_policy: None,
            load_balancer_source_ranges: Vec::new(),
        }
    }
}

/// Type of the Service.
#[derive(
    schemars::JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default,
)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClusterIP => "ClusterIP",
            Self::NodePort => "NodePort",
            Self::LoadBalancer => "LoadBalancer",
        }
    }
}

/// An Ingress for the Service.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.extraHosts) || self.extraHosts.size() == 0 || has(self.host)").message("ingress.extraHosts needs ingress.host (the first host)").field_path(".extraHosts")
)]
pub struct IngressSpec {
    /// Create the Ingress.
    #[serde(default)]
    pub enabled: bool,
    /// IngressClass to use. Unset: the cluster's default class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub class_name: Option<String>,
    /// Host name the Ingress answers, e.g. `webedt.example.com`. Unset: every host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub host: Option<String>,
    /// Terminate TLS with the certificate in this Secret. Without TLS the session cookie (Secure
    /// by default) is only usable if TLS is terminated in front of the Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<IngressTls>,
    /// Path prefixes routed to the API on `host` (Prefix match). The API serves its UI at `/`,
    /// so anything narrower serves only the API.
    #[serde(default = "default_paths")]
    #[schemars(
        length(min = 1, max = 16),
        inner(length(min = 1, max = 1024), pattern("^/"))
    )]
    pub paths: Vec<String>,
    /// More host names the Ingress answers, each with its own paths and certificate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub extra_hosts: Vec<IngressHost>,
    /// Extra annotations. They override the operator's SSE-friendly defaults for ingress-nginx
    /// (proxy buffering off, one-hour read and send timeouts).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Proxies in front of the pods that append the client address to `X-Forwarded-For`: the
    /// ingress controller is one; add one for each HTTP load balancer in front of it
    /// (TRUSTED_PROXY_HOPS). The API takes the client IP from that many entries from the right;
    /// per-IP limits key on it. Too low and every user behind the Ingress shares the
    /// controller's IP (one user's failed logins would lock all out); too high and clients can
    /// forge their IP. Applies while the Ingress is enabled; without one, set
    /// TRUSTED_PROXY_HOPS in spec.env if a proxy fronts the Service.
    #[serde(default = "default_trusted_proxy_hops")]
    #[schemars(range(min = 1, max = 10))]
    pub trusted_proxy_hops: u8,
}

fn default_trusted_proxy_hops() -> u8 {
    1
}

impl Default for IngressSpec {
    fn default() -> Self {
        Self {
            enabled: false,
            class_name: None,
            host: None,
            tls: None,
            paths: default_paths(),
            extra_hosts: Vec::new(),
            annotations: BTreeMap::new(),
            trusted_proxy_hops: default_trusted_proxy_hops(),
        }
    }
}

/// One more host of the Ingress.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IngressHost {
    /// The host name, e.g. `webedt.example.org`.
    #[schemars(length(min = 1, max = 253))]
    pub host: String,
    /// Path prefixes routed to the API on this host.
    #[serde(default = "default_paths")]
    #[schemars(
        length(min = 1, max = 16),
        inner(length(min = 1, max = 1024), pattern("^/"))
    )]
    pub paths: Vec<String>,
    /// Terminate TLS for this host with the certificate in this Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<IngressTls>,
}

fn default_paths() -> Vec<String> {
    vec!["/".into()]
}

/// TLS of the Ingress.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IngressTls {
    /// Secret of type kubernetes.io/tls with the certificate for the host (cert-manager can
    /// create it).
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
}

/// A NetworkPolicy for the API pods.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySpec {
    /// Create the NetworkPolicy. It restricts ingress only: the pods still reach the database
    /// and AI providers.
    #[serde(default)]
    pub enabled: bool,
    /// Peers allowed to reach the API port, e.g. the ingress controller's namespace. Empty: pods
    /// in the same namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_from: Vec<NetworkPolicyPeer>,
}

/// A Prometheus Operator ServiceMonitor (needs the monitoring.coreos.com CRDs).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.interval.matches('^[0-9]+(ms|s|m|h)$')").message("serviceMonitor.interval must be a duration such as 30s or 1m").field_path(".interval"),
    validation = Rule::new("!has(self.scrapeTimeout) || self.scrapeTimeout.matches('^[0-9]+(ms|s|m|h)$')").message("serviceMonitor.scrapeTimeout must be a duration such as 10s").field_path(".scrapeTimeout")
)]
pub struct ServiceMonitorSpec {
    /// Create a ServiceMonitor that scrapes `/metrics` on the `http` port.
    #[serde(default)]
    pub enabled: bool,
    /// Labels of the ServiceMonitor: Prometheus selects ServiceMonitors by label
    /// (kube-prometheus-stack by `release: <its release name>`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// How often to scrape, e.g. `30s`.
    #[serde(default = "default_interval")]
    #[schemars(length(min = 2, max = 16))]
    pub interval: String,
    /// Longest a scrape may take; at most the interval. Unset: Prometheus' default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 16))]
    pub scrape_timeout: Option<String>,
}

fn default_interval() -> String {
    "30s".into()
}

impl Default for ServiceMonitorSpec {
    fn default() -> Self {
        Self {
            enabled: false,
            labels: BTreeMap::new(),
            interval: default_interval(),
            scrape_timeout: None,
        }
    }
}

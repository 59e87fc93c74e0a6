//! The Ingress, configured for server-sent events: run output streams for minutes, so the proxy
//! must neither buffer responses nor cut idle-looking connections.

use super::{HTTP_PORT_NAME, Role, object_meta};
use crate::validate::ValidatedWebEDT;
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};
use std::collections::BTreeMap;

/// ingress-nginx settings for SSE (other controllers ignore them; Traefik does not buffer).
pub const SSE_ANNOTATIONS: [(&str, &str); 3] = [
    ("nginx.ingress.kubernetes.io/proxy-buffering", "off"),
    ("nginx.ingress.kubernetes.io/proxy-read-timeout", "3600"),
    ("nginx.ingress.kubernetes.io/proxy-send-timeout", "3600"),
];

pub fn build(v: &ValidatedWebEDT) -> Option<Ingress> {
    let spec = &v.spec.ingress;
    if !spec.enabled {
        return None;
    }
    let mut annotations: BTreeMap<String, String> = SSE_ANNOTATIONS
        .iter()
        .map(|(k, val)| (k.to_string(), val.to_string()))
        .collect();
    // The user's annotations override ours.
    annotations.extend(spec.annotations.clone());
    let mut metadata = object_meta(v, Role::Ingress);
    metadata.annotations = Some(annotations);

    // The first host (or every host when it is unset), then the extra hosts.
    let hosts = std::iter::once((spec.host.clone(), &spec.paths, spec.tls.as_ref())).chain(
        spec.extra_hosts
            .iter()
            .map(|h| (Some(h.host.clone()), &h.paths, h.tls.as_ref())),
    );
    let mut rules = Vec::new();
    let mut tls = Vec::new();
    for (host, paths, host_tls) in hosts {
        rules.push(IngressRule {
            host: host.clone(),
            http: Some(HTTPIngressRuleValue {
                paths: paths.iter().map(|p| path(v, p)).collect(),
            }),
        });
        if let Some(t) = host_tls {
            tls.push(IngressTLS {
                hosts: host.map(|h| vec![h]),
                secret_name: Some(t.secret_name.clone()),
            });
        }
    }

    Some(Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: spec.class_name.clone(),
            rules: Some(rules),
            tls: (!tls.is_empty()).then_some(tls),
            default_backend: None,
        }),
        status: None,
    })
}

fn path(v: &ValidatedWebEDT, prefix: &str) -> HTTPIngressPath {
    HTTPIngressPath {
        path: Some(prefix.into()),
        path_type: "Prefix".into(),
        backend: IngressBackend {
            service: Some(IngressServiceBackend {
                name: Role::ApiService.name(v),
                port: Some(ServiceBackendPort {
                    name: Some(HTTP_PORT_NAME.into()),
                    number: None,
                }),
            }),
            resource: None,
        },
    }
}

/// Public URL of the Ingress, for `status.endpoint`; `None` without a host.
pub fn url(v: &ValidatedWebEDT) -> Option<String> {
    let spec = &v.spec.ingress;
    let host = spec.host.as_ref().filter(|_| spec.enabled)?;
    let scheme = if spec.tls.is_some() { "https" } else { "http" };
    Some(format!("{scheme}://{host}"))
}

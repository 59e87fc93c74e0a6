//! The Service in front of the API pods.

use super::labels::{self, Component};
use super::{HTTP_PORT_NAME, Role, object_meta};
use crate::validate::ValidatedWebEDT;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub fn build(v: &ValidatedWebEDT) -> Service {
    Service {
        metadata: object_meta(v, Role::ApiService),
        spec: Some(ServiceSpec {
            type_: Some(v.spec.service.type_.as_str().into()),
            selector: Some(labels::selector(&v.name, Component::Api)),
            ports: Some(vec![ServicePort {
                // Named `http`: the ServiceMonitor scrapes it by name.
                name: Some(HTTP_PORT_NAME.into()),
                port: v.spec.service.port,
                target_port: Some(IntOrString::String(HTTP_PORT_NAME.into())),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

/// In-cluster URL of the Service, for `status.endpoint` when there is no Ingress.
pub fn cluster_url(v: &ValidatedWebEDT) -> String {
    format!(
        "http://{}.{}.svc:{}",
        v.name, v.namespace, v.spec.service.port
    )
}

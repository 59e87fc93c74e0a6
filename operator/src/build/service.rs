//! The Service in front of the API pods.

use super::labels::{self, Component};
use super::{HTTP_PORT_NAME, Role, object_meta};
use crate::validate::ValidatedWebEDT;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub fn build(v: &ValidatedWebEDT) -> Service {
    Service {
        metadata: ObjectMeta {
            annotations: super::pod::non_empty(&v.spec.service.annotations),
            ..object_meta(v, Role::ApiService)
        },
        spec: Some(ServiceSpec {
            type_: Some(v.spec.service.type_.as_str().into()),
            external_traffic_policy: v
                .spec
                .service
                .external_traffic_policy
                .map(|p| format!("{p:?}")),
            load_balancer_source_ranges: super::pod::non_empty_vec(
                &v.spec.service.load_balancer_source_ranges,
            ),
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

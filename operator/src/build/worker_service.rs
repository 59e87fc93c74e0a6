//! The workers' Service: ClusterIP only, the API's AI_WORKER_URL.

use super::labels::{self, Component};
use super::{HTTP_PORT_NAME, Role, object_meta};
use crate::validate::ValidatedWebEDT;
use crate::worker::WORKER_PORT;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub fn build(v: &ValidatedWebEDT) -> Option<Service> {
    v.worker.as_ref()?;
    Some(Service {
        metadata: object_meta(v, Role::WorkerService),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(labels::selector(&v.name, Component::Worker)),
            ports: Some(vec![ServicePort {
                name: Some(HTTP_PORT_NAME.into()),
                port: WORKER_PORT,
                target_port: Some(IntOrString::String(HTTP_PORT_NAME.into())),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    })
}

/// The in-cluster URL of the workers' Service (the API pods' AI_WORKER_URL).
pub fn url(v: &ValidatedWebEDT) -> String {
    format!(
        "http://{}.{}.svc:{WORKER_PORT}",
        Role::WorkerService.name(v),
        v.namespace
    )
}

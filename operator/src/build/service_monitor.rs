//! The Prometheus Operator ServiceMonitor, as a dynamic object: its CRD is not ours and may not
//! be installed, so no typed binding is compiled in.

use super::labels::{self, Component};
use super::{HTTP_PORT_NAME, Role, object_meta};
use crate::validate::ValidatedWebEDT;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use serde_json::json;

pub const GROUP: &str = "monitoring.coreos.com";
pub const VERSION: &str = "v1";
pub const KIND: &str = "ServiceMonitor";

pub fn api_resource() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(GROUP, VERSION, KIND))
}

pub fn build(v: &ValidatedWebEDT) -> Option<DynamicObject> {
    if !v.spec.service_monitor.enabled {
        return None;
    }
    let mut obj = DynamicObject::new(&v.name, &api_resource());
    obj.metadata = object_meta(v, Role::ServiceMonitor);
    obj.data = json!({
        "spec": {
            "selector": { "matchLabels": labels::selector(&v.name, Component::Api) },
            "endpoints": [{
                "port": HTTP_PORT_NAME,
                "path": "/metrics",
                "interval": "30s",
            }],
        }
    });
    Some(obj)
}

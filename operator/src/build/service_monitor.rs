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
    let sm = &v.spec.service_monitor;
    obj.metadata = object_meta(v, Role::ServiceMonitor);
    // The user's labels select it for a Prometheus; ours still identify it as the operator's.
    let mut all = sm.labels.clone();
    all.extend(obj.metadata.labels.take().unwrap_or_default());
    obj.metadata.labels = Some(all);
    let mut endpoint = json!({
        "port": HTTP_PORT_NAME,
        "path": "/metrics",
        "interval": sm.interval,
    });
    if let Some(t) = &sm.scrape_timeout {
        endpoint["scrapeTimeout"] = json!(t);
    }
    obj.data = json!({
        "spec": {
            "selector": { "matchLabels": labels::selector(&v.name, Component::Api) },
            "endpoints": [endpoint],
        }
    });
    Some(obj)
}

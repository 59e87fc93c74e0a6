//! Discovery as `kubectl` reads it: `/version`, `/api`, `/apis` and one `APIResourceList` per
//! group version, from [`served`] kinds. Only the legacy (unaggregated) form: clients that ask for
//! the aggregated `apidiscovery.k8s.io/v2` form accept it, as against servers before 1.26.

use super::*;

/// The discovery answer for `path`, or None when `path` is not a discovery path.
pub(crate) fn answer(db: &Db, path: &str, addr: &str) -> Option<Response> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let kinds = served(db);
    let body = match segs.as_slice() {
        ["version"] => json!({
            "major": "1", "minor": "33", "gitVersion": "v1.33.0-webedt-testapi",
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24", "compiler": "gc",
            "platform": "linux/amd64",
        }),
        ["api"] => json!({
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr}],
        }),
        ["apis"] => {
            let mut groups: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
            for k in kinds.iter().filter(|k| !k.group.is_empty()) {
                groups.entry(&k.group).or_default().insert(&k.version);
            }
            let groups: Vec<Value> = groups
                .into_iter()
                .map(|(g, versions)| {
                    let versions: Vec<Value> = versions
                        .into_iter()
                        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                        .collect();
                    json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
                })
                .collect();
            json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        }
        ["api", version] => resource_list(&kinds, "", version)?,
        ["apis", group, version] => resource_list(&kinds, group, version)?,
        _ => return None,
    };
    Some(ok_json(200, &body))
}

fn resource_list(kinds: &[Kind], group: &str, version: &str) -> Option<Value> {
    let mine: Vec<&Kind> = kinds
        .iter()
        .filter(|k| k.group == group && k.version == version)
        .collect();
    if mine.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for k in mine {
        resources.push(json!({
            "name": k.plural, "singularName": k.singular, "namespaced": k.namespaced,
            "kind": k.kind, "shortNames": k.short_names,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        }));
        if k.status {
            resources.push(json!({
                "name": format!("{}/status", k.plural), "singularName": "", "namespaced": k.namespaced,
                "kind": k.kind, "verbs": ["get", "patch", "update"],
            }));
        }
        if k.scale {
            resources.push(json!({
                "name": format!("{}/scale", k.plural), "singularName": "", "namespaced": k.namespaced,
                "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"],
            }));
        }
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

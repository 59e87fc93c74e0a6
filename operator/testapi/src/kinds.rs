//! The kinds this "cluster" serves: a fixed set of built-in ones, plus every kind a stored
//! `CustomResourceDefinition` declares (as a real server learns them). Discovery, the OpenAPI
//! documents, Tables and schema validation all read from here.

use super::*;

/// A kind as discovery describes it.
#[derive(Clone, Debug)]
pub(crate) struct Kind {
    pub(crate) group: String,
    pub(crate) version: String,
    pub(crate) plural: String,
    pub(crate) singular: String,
    pub(crate) kind: String,
    pub(crate) namespaced: bool,
    pub(crate) status: bool,
    pub(crate) scale: bool,
    pub(crate) short_names: Vec<String>,
    /// `additionalPrinterColumns` of a CRD version.
    pub(crate) columns: Vec<Value>,
    /// `openAPIV3Schema` of a CRD version.
    pub(crate) schema: Option<Value>,
}

/// (group, version, plural, kind, namespaced, status, scale, short names, listed by discovery).
/// WebEDT and ServiceMonitor are stored without their CRDs (the operator's tests do not install
/// them) but discovered only once a CRD declares them, like on a real server.
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    bool,
    bool,
    &'static [&'static str],
    bool,
);

// One kind a line: a table reads better than rustfmt's one field a line.
#[rustfmt::skip]
const BUILTIN: &[Builtin] = &[
    ("", "v1", "namespaces", "Namespace", false, true, false, &["ns"], true),
    ("", "v1", "secrets", "Secret", true, false, false, &[], true),
    ("", "v1", "configmaps", "ConfigMap", true, false, false, &["cm"], true),
    ("", "v1", "services", "Service", true, true, false, &["svc"], true),
    ("", "v1", "events", "Event", true, false, false, &["ev"], true),
    ("apps", "v1", "deployments", "Deployment", true, true, true, &["deploy"], true),
    ("batch", "v1", "jobs", "Job", true, true, false, &[], true),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", true, true, false, &["pdb"], true),
    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, true, false, &["hpa"], true),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", true, true, false, &["ing"], true),
    ("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true, false, false, &["netpol"], true),
    ("coordination.k8s.io", "v1", "leases", "Lease", true, false, false, &[], true),
    ("events.k8s.io", "v1", "events", "Event", true, false, false, &["ev"], true),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", false, true, false, &["crd", "crds"], true),
    ("webedt.dev", "v1alpha1", "webedts", "WebEDT", true, true, true, &[], false),
    ("monitoring.coreos.com", "v1", "servicemonitors", "ServiceMonitor", true, false, false, &[], false),
];

pub(crate) const CRD_GROUP: &str = "apiextensions.k8s.io";
pub(crate) const CRDS: &str = "customresourcedefinitions";

fn builtin(b: &Builtin) -> Kind {
    let (group, version, plural, kind, namespaced, status, scale, short, _) = *b;
    Kind {
        group: group.into(),
        version: version.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        kind: kind.into(),
        namespaced,
        status,
        scale,
        short_names: short.iter().map(|s| s.to_string()).collect(),
        columns: vec![],
        schema: None,
    }
}

/// The served (storage) version of each stored CRD.
fn from_crds(db: &Db) -> Vec<Kind> {
    let res = ResKey {
        group: CRD_GROUP.into(),
        plural: CRDS.into(),
    };
    of_res(db, &res)
        .filter_map(|(_, o)| {
            let spec = &o.value["spec"];
            let versions = spec["versions"].as_array()?;
            let v = versions
                .iter()
                .find(|v| v["storage"] == true)
                .or_else(|| versions.first())?;
            let names = &spec["names"];
            let sub = &v["subresources"];
            Some(Kind {
                group: spec["group"].as_str()?.into(),
                version: v["name"].as_str()?.into(),
                plural: names["plural"].as_str()?.into(),
                singular: names["singular"]
                    .as_str()
                    .map(String::from)
                    .unwrap_or_else(|| names["kind"].as_str().unwrap_or("").to_lowercase()),
                kind: names["kind"].as_str()?.into(),
                namespaced: spec["scope"] != "Cluster",
                status: sub.get("status").is_some(),
                scale: sub.get("scale").is_some(),
                short_names: names["shortNames"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
                columns: v["additionalPrinterColumns"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
                schema: v["schema"]["openAPIV3Schema"]
                    .as_object()
                    .map(|_| v["schema"]["openAPIV3Schema"].clone()),
            })
        })
        .collect()
}

/// Every kind discovery lists: the built-in ones, then the CRDs' (a CRD replaces a built-in
/// stand-in of the same group and plural).
pub(crate) fn served(db: &Db) -> Vec<Kind> {
    let crds = from_crds(db);
    let mut out: Vec<Kind> = BUILTIN
        .iter()
        .filter(|b| b.8)
        .map(builtin)
        .filter(|k| {
            !crds
                .iter()
                .any(|c| c.group == k.group && c.plural == k.plural)
        })
        .collect();
    out.extend(crds);
    out
}

/// The kind stored under `group`/`plural`: a CRD's, else a built-in one (listed or not).
pub(crate) fn find(db: &Db, group: &str, plural: &str) -> Option<Kind> {
    from_crds(db)
        .into_iter()
        .find(|k| k.group == group && k.plural == plural)
        .or_else(|| {
            BUILTIN
                .iter()
                .find(|b| b.0 == group && b.2 == plural)
                .map(builtin)
        })
}

/// The kind name and whether `status` is a subresource ("Unknown", false for unknown kinds).
pub(crate) fn kind_of(db: &Db, group: &str, plural: &str) -> (String, bool) {
    match find(db, group, plural) {
        Some(k) => (k.kind, k.status),
        None => ("Unknown".into(), false),
    }
}

/// What the apiextensions controller reports for an accepted CRD.
pub(crate) fn crd_status(v: &Value) -> Value {
    let now = now();
    let condition = |type_: &str, reason: &str| json!({"type": type_, "status": "True", "reason": reason, "message": "", "lastTransitionTime": now});
    let versions: Vec<Value> = v["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["storage"] == true)
        .map(|v| v["name"].clone())
        .collect();
    json!({
        "conditions": [condition("NamesAccepted", "NoConflicts"), condition("Established", "InitialNamesAccepted")],
        "acceptedNames": v["spec"]["names"],
        "storedVersions": versions,
    })
}

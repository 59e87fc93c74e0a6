//! core/v1 Events, as `kubectl describe` lists them (`involvedObject.*` field selectors): the
//! ones stored under core/v1, and every `events.k8s.io/v1` Event (what the operator's recorder
//! writes) converted the way the apiserver serves one resource under both APIs.

use super::*;

pub(crate) fn list_core(db: &Db, t: &Target, q: &HashMap<String, String>) -> Response {
    let f = Filter::new(t, q);
    let new_api = ResKey {
        group: "events.k8s.io".into(),
        plural: "events".into(),
    };
    let mut items: Vec<Value> = of_res(db, &f.res)
        .filter(|(k, o)| f.accepts(&k.res, &k.namespace, &o.value))
        .map(|(_, o)| render(o))
        .collect();
    items.extend(
        of_res(db, &new_api)
            .map(|(k, o)| (k, to_core(&o.value)))
            .filter(|(k, v)| f.accepts_object(&k.namespace, v))
            .map(|(_, v)| v),
    );
    let out = json!({"apiVersion": "v1", "kind": "EventList",
        "metadata": {"resourceVersion": db.rv.to_string()}, "items": items});
    ok_json(200, &out)
}

/// An `events.k8s.io/v1` Event as a core/v1 one (the apiserver's field mapping).
pub(crate) fn to_core(e: &Value) -> Value {
    let series_count = e["series"]["count"].as_i64();
    let count = e["deprecatedCount"]
        .as_i64()
        .filter(|c| *c > 0)
        .or(series_count)
        .unwrap_or(1);
    let first = e["deprecatedFirstTimestamp"]
        .as_str()
        .or(e["eventTime"].as_str())
        .map(|t| json!(t))
        .unwrap_or(Value::Null);
    let last = e["deprecatedLastTimestamp"]
        .as_str()
        .or(e["series"]["lastObservedTime"].as_str())
        .or(e["eventTime"].as_str())
        .map(|t| json!(t))
        .unwrap_or(Value::Null);
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": e["metadata"],
        "involvedObject": e["regarding"],
        "related": e["related"],
        "reason": e["reason"],
        "message": e["note"],
        "type": e["type"],
        "action": e["action"],
        "eventTime": e["eventTime"],
        "series": e["series"],
        "count": count,
        "firstTimestamp": first,
        "lastTimestamp": last,
        "source": {
            "component": e["deprecatedSource"]["component"].as_str().or(e["reportingController"].as_str()),
            "host": e["deprecatedSource"]["host"],
        },
        "reportingComponent": e["reportingController"],
        "reportingInstance": e["reportingInstance"],
    })
}

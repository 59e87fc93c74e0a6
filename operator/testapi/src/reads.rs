//! Reads: GET, LIST, WATCH (with history replay and `410 Gone`) and the scale view.

use super::*;

pub(crate) fn render(o: &StoredObject) -> Value {
    let mut v = o.value.clone();
    if !o.owners.is_empty() {
        let api_version = v["apiVersion"].clone();
        let mf: Vec<Value> = o
            .owners
            .iter()
            .filter(|(_, paths)| !paths.is_empty())
            .map(|((manager, op), paths)| {
                let mut tree = Map::new();
                for p in paths {
                    let mut cur = &mut tree;
                    for seg in p {
                        cur = cur
                            .entry(format!("f:{seg}"))
                            .or_insert_with(|| json!({}))
                            .as_object_mut()
                            .expect("object");
                    }
                }
                json!({"manager": manager, "operation": op, "apiVersion": api_version,
                       "fieldsType": "FieldsV1", "fieldsV1": tree})
            })
            .collect();
        v["metadata"]["managedFields"] = Value::Array(mf);
    }
    v
}

/// The stored objects of one resource (all namespaces), in key order.
pub(crate) fn of_res<'a>(
    db: &'a Db,
    res: &ResKey,
) -> impl Iterator<Item = (&'a ObjKey, &'a StoredObject)> {
    let from = ObjKey {
        res: res.clone(),
        namespace: String::new(),
        name: String::new(),
    };
    db.objects
        .range(from..)
        .take_while(move |(k, _)| k.res == *res)
}

pub(crate) fn list(db: &Db, t: &Target, q: &HashMap<String, String>) -> Response {
    let f = Filter::new(t, q);
    let items: Vec<Value> = of_res(db, &f.res)
        .filter(|(k, o)| f.accepts(&k.res, &k.namespace, &o.value))
        .map(|(_, o)| render(o))
        .collect();
    let (kind, _) = kind_of(db, &t.group, &t.plural);
    let mut out = json!({"apiVersion": t.api_version(), "kind": format!("{kind}List"),
                         "metadata": {"resourceVersion": db.rv.to_string()}});
    out["items"] = Value::Array(items);
    ok_json(200, &out)
}

pub(crate) fn watch_response(
    s: &Arc<ServerState>,
    t: &Target,
    q: &HashMap<String, String>,
) -> Response {
    let f = Filter::new(t, q);
    let from: u64 = q
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(290u64);
    let (replay, rx, gone) = {
        let db = lock(&s.db);
        if from != 0 && from + 1 < db.oldest_rv {
            (VecDeque::new(), s.tx.subscribe(), true)
        } else {
            let replay: VecDeque<WatchEvent> = if from == 0 {
                // "Any": start with the current state, like the apiserver.
                of_res(&db, &f.res)
                    .filter(|(k, o)| f.accepts(&k.res, &k.namespace, &o.value))
                    .map(|(k, o)| WatchEvent {
                        rv: db.rv,
                        type_: "ADDED",
                        res: k.res.clone(),
                        namespace: k.namespace.clone(),
                        object: Arc::new(render(o)),
                    })
                    .collect()
            } else {
                db.history
                    .iter()
                    .filter(|e| e.rv > from && f.accepts(&e.res, &e.namespace, &e.object))
                    .cloned()
                    .collect()
            };
            (replay, s.tx.subscribe(), false)
        }
    };
    if gone {
        let line = json!({"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1",
            "metadata": {}, "status": "Failure", "reason": "Expired", "code": 410,
            "message": format!("too old resource version: {from}")}})
        .to_string()
            + "\n";
        return (StatusCode::OK, [("content-type", "application/json")], line).into_response();
    }
    let last = replay.back().map(|e| e.rv).unwrap_or(from);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let live = tokio_stream::wrappers::BroadcastStream::new(rx)
        .take_while(|r| futures::future::ready(r.is_ok()))
        .filter_map(move |r| {
            futures::future::ready(match r {
                Ok(e) if e.rv > last && f.accepts(&e.res, &e.namespace, &e.object) => Some(e),
                _ => None,
            })
        });
    let events = futures::stream::iter(replay)
        .chain(live)
        .take_until(tokio::time::sleep_until(deadline))
        .map(|e| {
            Ok::<_, std::convert::Infallible>(Bytes::from(format!(
                "{{\"type\":\"{}\",\"object\":{}}}\n",
                e.type_, e.object
            )))
        });
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        Body::from_stream(events),
    )
        .into_response()
}

pub(crate) fn scale_of(t: &Target, v: &Value) -> Value {
    let selector = if t.plural == "deployments" {
        v["spec"]["selector"]["matchLabels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default()
    } else {
        v["status"]["selector"].as_str().unwrap_or("").to_string()
    };
    json!({
        "apiVersion": "autoscaling/v1", "kind": "Scale",
        "metadata": {"name": v["metadata"]["name"], "namespace": v["metadata"]["namespace"],
                     "resourceVersion": v["metadata"]["resourceVersion"], "uid": v["metadata"]["uid"]},
        "spec": {"replicas": v["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": v["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
    })
}

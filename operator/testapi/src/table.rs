//! The `meta.k8s.io/v1` Table form `kubectl get` asks for (`Accept: …;as=Table`): a Name column,
//! then a CRD's `additionalPrinterColumns` (JSONPath, `date` columns shown as an age, like the
//! apiserver's CRD table convertor), or Name and Age for built-in kinds.

use super::*;

pub(crate) fn list(db: &Db, t: &Target, q: &HashMap<String, String>) -> Response {
    let f = Filter::new(t, q);
    let objects: Vec<Value> = of_res(db, &f.res)
        .filter(|(k, o)| f.accepts(&k.res, &k.namespace, &o.value))
        .map(|(_, o)| render(o))
        .collect();
    ok_json(200, &table(db, t, &objects))
}

pub(crate) fn one(db: &Db, t: &Target, object: &Value) -> Response {
    ok_json(200, &table(db, t, std::slice::from_ref(object)))
}

fn table(db: &Db, t: &Target, objects: &[Value]) -> Value {
    let custom = find(db, &t.group, &t.plural)
        .map(|k| k.columns)
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| {
            vec![json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
                "description": "CreationTimestamp is a timestamp representing the server time when this object was created."})]
        });
    let mut definitions = vec![
        json!({"name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name must be unique within a namespace."}),
    ];
    definitions.extend(custom.iter().map(|c| {
        json!({"name": c["name"], "type": c["type"], "format": c["format"].as_str().unwrap_or(""),
            "description": c["description"].as_str().unwrap_or(""), "priority": c["priority"].as_i64().unwrap_or(0)})
    }));
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut cells = vec![o["metadata"]["name"].clone()];
            cells.extend(custom.iter().map(|c| {
                let value = evaluate(o, c["jsonPath"].as_str().unwrap_or(""));
                match (c["type"].as_str(), &value) {
                    (Some("date"), Some(Value::String(s))) => json!(age(s)),
                    _ => value.unwrap_or(Value::Null),
                }
            }));
            json!({"cells": cells, "object": {"kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]}})
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": db.rv.to_string()},
        "columnDefinitions": definitions, "rows": rows})
}

/// The time since an RFC 3339 timestamp, as the apiserver shows ages (`45s`, `3m20s`, `2h`).
fn age(timestamp: &str) -> String {
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(timestamp) else {
        return "<invalid>".into();
    };
    let s = (chrono::Utc::now() - t.with_timezone(&chrono::Utc))
        .num_seconds()
        .max(0);
    let (m, h) = (s / 60, s / 3600);
    match () {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 && s % 60 != 0 => format!("{m}m{}s", s % 60),
        _ if m < 180 => format!("{m}m"),
        _ if h < 8 && m % 60 != 0 => format!("{h}h{}m", m % 60),
        _ if h < 48 => format!("{h}h"),
        _ => format!("{}d", h / 24),
    }
}

/// The first value a printer column's JSONPath selects: `.a.b`, `[2]`, `[*]` and filters
/// `[?(@.type=="Ready")]`, the forms CRD columns use.
pub(crate) fn evaluate(v: &Value, path: &str) -> Option<Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut current = vec![v.clone()];
    let mut rest = path.trim_start_matches('$');
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = &r[..end];
            current = current
                .iter()
                .filter_map(|c| c.get(name).cloned())
                .collect();
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = &r[..end];
            rest = &r[end + 1..];
            current = if inner == "*" {
                current
                    .iter()
                    .flat_map(|c| c.as_array().cloned().unwrap_or_default())
                    .collect()
            } else if let Some(filter) = inner.strip_prefix("?(@").and_then(|f| f.strip_suffix(')'))
            {
                let (field, want) = filter.split_once("==")?;
                let want: Value = serde_json::from_str(want.trim())
                    .unwrap_or_else(|_| json!(want.trim().trim_matches('\'')));
                current
                    .iter()
                    .flat_map(|c| c.as_array().cloned().unwrap_or_default())
                    .filter(|item| evaluate(item, field.trim()).as_ref() == Some(&want))
                    .collect()
            } else {
                let i: usize = inner.parse().ok()?;
                current.iter().filter_map(|c| c.get(i).cloned()).collect()
            };
        } else {
            return None;
        }
    }
    current.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printer_column_paths_select_like_kubectl() {
        let v = json!({"status": {"replicas": 2, "conditions": [
            {"type": "Progressing", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        let ready = r#".status.conditions[?(@.type=="Ready")].status"#;
        assert_eq!(evaluate(&v, ready), Some(json!("True")));
        assert_eq!(evaluate(&v, ".status.replicas"), Some(json!(2)));
        assert_eq!(
            evaluate(&v, ".status.conditions[0].type"),
            Some(json!("Progressing"))
        );
        assert_eq!(evaluate(&v, ".spec.image"), None);
        assert_eq!(age(&chrono::Utc::now().to_rfc3339()), "0s");
    }
}

//! Structural-schema handling of custom resources, as the apiserver does it: fields the CRD's
//! `openAPIV3Schema` does not declare are unknown. `fieldValidation=Strict` refuses a request
//! that has any, `Warn` (the default) answers with a `Warning` header; either way they are pruned
//! before the object is stored. `metadata`, `apiVersion` and `kind` are the server's own.

use super::*;

/// Dotted paths of the fields of `v` that `schema` does not declare.
pub(crate) fn unknown_fields(schema: &Value, v: &Value) -> Vec<String> {
    prune(schema, &mut v.clone())
}

/// Removes from `v` the fields `schema` does not declare, and names them.
pub(crate) fn prune(schema: &Value, v: &mut Value) -> Vec<String> {
    let mut removed = Vec::new();
    prune_in(schema, v, "", &mut removed);
    removed
}

fn prune_in(schema: &Value, v: &mut Value, path: &str, removed: &mut Vec<String>) {
    if schema["x-kubernetes-preserve-unknown-fields"] == true
        || schema["x-kubernetes-int-or-string"] == true
    {
        return;
    }
    match v {
        Value::Object(m) => {
            let props = schema["properties"].as_object();
            let additional = &schema["additionalProperties"];
            m.retain(|k, child| {
                if path.is_empty() && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    return true;
                }
                let at = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let keep = match props.and_then(|p| p.get(k)) {
                    Some(s) => Some(s),
                    None if additional.is_object() => Some(additional),
                    None => None,
                };
                match keep {
                    Some(s) => prune_in(s, child, &at, removed),
                    None if *additional == true => {}
                    None => {
                        removed.push(at);
                        return false;
                    }
                }
                true
            });
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                prune_in(&schema["items"], item, &format!("{path}[{i}]"), removed);
            }
        }
        _ => {}
    }
}

/// The `fieldValidation` verdict on a write's body: `Err` (400) under `Strict`, else the
/// warnings to send.
pub(crate) fn check(
    db: &Db,
    t: &Target,
    body: &Value,
    mode: Option<&str>,
) -> Result<Vec<String>, Box<Response>> {
    let Some(schema) = find(db, &t.group, &t.plural).and_then(|k| k.schema) else {
        return Ok(vec![]);
    };
    // JSON patches (arrays of operations) are checked once applied, by pruning.
    if !body.is_object() || mode == Some("Ignore") {
        return Ok(vec![]);
    }
    let unknown = unknown_fields(&schema, body);
    if unknown.is_empty() {
        return Ok(vec![]);
    }
    let messages: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    if mode == Some("Strict") {
        return Err(Box::new(status_err(
            400,
            "BadRequest",
            format!("strict decoding error: {}", messages.join(", ")),
        )));
    }
    Ok(messages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undeclared_fields_are_named_and_pruned_but_open_maps_are_not() {
        let schema = json!({"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "replicas": {"type": "integer"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "ports": {"type": "array", "items": {"type": "object", "properties": {"port": {"type": "integer"}}}},
            }},
        }});
        let mut v = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"},
            "spec": {"replicas": 1, "replica": 2, "labels": {"a": "b"}, "extra": {"any": 1},
                     "ports": [{"port": 1, "name": "x"}]},
            "bogus": true});
        assert_eq!(
            unknown_fields(&schema, &v),
            vec!["bogus", "spec.ports[0].name", "spec.replica"]
        );
        prune(&schema, &mut v);
        assert!(unknown_fields(&schema, &v).is_empty());
        assert_eq!(v["spec"]["extra"]["any"], 1);
        assert_eq!(v["metadata"]["name"], "a");
    }
}

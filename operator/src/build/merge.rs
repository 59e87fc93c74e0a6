//! The merge of `spec.unsupported.podTemplate` onto the built pod template, the way a strategic
//! merge patch treats a pod: objects merge key by key, lists whose items all carry a `name`
//! (containers, volumes, env, volumeMounts, ports) merge item by item on that name, any other
//! list and every scalar is replaced, and `null` removes the key.

use serde_json::Value;

/// `patch` merged onto `base`.
pub fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, pv) in p {
                if pv.is_null() {
                    b.remove(k);
                } else if let Some(bv) = b.get_mut(k) {
                    merge(bv, pv);
                } else {
                    b.insert(k.clone(), pv.clone());
                }
            }
        }
        (Value::Array(b), Value::Array(p)) if named(b) && named(p) => {
            for item in p {
                match b.iter_mut().find(|x| x["name"] == item["name"]) {
                    Some(existing) => merge(existing, item),
                    None => b.push(item.clone()),
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

fn named(items: &[Value]) -> bool {
    items
        .iter()
        .all(|i| i.get("name").is_some_and(Value::is_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn named_lists_merge_by_name_other_values_replace_and_null_removes() {
        let mut base = json!({
            "metadata": {"labels": {"a": "1"}},
            "spec": {
                "containers": [{"name": "api", "image": "i", "env": [{"name": "X", "value": "1"}]}],
                "dnsPolicy": "ClusterFirst",
                "enableServiceLinks": false,
                "args": ["a", "b"],
            }
        });
        merge(
            &mut base,
            &json!({
                "metadata": {"labels": {"b": "2"}},
                "spec": {
                    "containers": [
                        {"name": "api", "env": [{"name": "Y", "value": "2"}, {"name": "X", "value": "9"}]},
                        {"name": "extra", "image": "e"}
                    ],
                    "dnsPolicy": "None",
                    "enableServiceLinks": null,
                    "args": ["c"],
                }
            }),
        );
        assert_eq!(
            base,
            json!({
                "metadata": {"labels": {"a": "1", "b": "2"}},
                "spec": {
                    "containers": [
                        {"name": "api", "image": "i", "env": [{"name": "X", "value": "9"}, {"name": "Y", "value": "2"}]},
                        {"name": "extra", "image": "e"}
                    ],
                    "dnsPolicy": "None",
                    "args": ["c"],
                }
            })
        );
    }
}

//! `/openapi/v3`: the index of group versions and one OpenAPI 3.0 document per group version,
//! built from the [`served`] kinds. A CRD's kind carries its `openAPIV3Schema` (what
//! `kubectl explain` shows); every kind's PATCH operation lists the `fieldValidation` parameter,
//! which is how kubectl learns to leave validation to the server (`fieldValidation=Strict`).
//! Built-in kinds have an open schema: this server does not know their fields.

use super::*;

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// The answer for `/openapi/v3` or `/openapi/v3/{api/v1 | apis/g/v}`, or None.
pub(crate) fn answer(db: &Db, path: &str) -> Option<Response> {
    let rest = path.strip_prefix("/openapi/v3")?;
    let kinds = served(db);
    let mut docs: BTreeMap<String, Vec<&Kind>> = BTreeMap::new();
    for k in &kinds {
        let prefix = if k.group.is_empty() {
            format!("api/{}", k.version)
        } else {
            format!("apis/{}/{}", k.group, k.version)
        };
        docs.entry(prefix).or_default().push(k);
    }
    let rest = rest.trim_matches('/');
    if rest.is_empty() {
        let paths: Map<String, Value> = docs
            .iter()
            .map(|(prefix, kinds)| {
                let hash = fnv(&document(kinds).to_string());
                (
                    prefix.clone(),
                    json!({"serverRelativeURL": format!("/openapi/v3/{prefix}?hash={hash:016X}")}),
                )
            })
            .collect();
        return Some(ok_json(200, &json!({ "paths": paths })));
    }
    let kinds = docs.get(rest)?;
    Some(ok_json(200, &document(kinds)))
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    })
}

/// `io.k8s.api.core.v1.Secret` for built-in kinds, `dev.webedt.v1alpha1.WebEDT` for CRDs.
fn schema_name(k: &Kind) -> String {
    if k.schema.is_none() {
        let group = match k.group.as_str() {
            "" => "core".to_string(),
            g => g.trim_end_matches(".k8s.io").to_string(),
        };
        return format!("io.k8s.api.{group}.{}.{}", k.version, k.kind);
    }
    let reversed: Vec<&str> = k.group.split('.').rev().collect();
    format!("{}.{}.{}", reversed.join("."), k.version, k.kind)
}

fn document(kinds: &[&Kind]) -> Value {
    let mut schemas = Map::new();
    schemas.insert(
        OBJECT_META.into(),
        json!({
            "description": "Standard object's metadata.",
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "Name must be unique within a namespace."},
                "namespace": {"type": "string", "description": "The namespace of the object."},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Map of string keys and values for organizing and categorizing objects."},
                "annotations": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Unstructured key value map stored with the object."},
                "uid": {"type": "string"},
                "resourceVersion": {"type": "string"},
                "generation": {"type": "integer", "format": "int64"},
                "creationTimestamp": {"type": "string", "format": "date-time"},
            },
        }),
    );
    let mut paths = Map::new();
    for k in kinds {
        let name = schema_name(k);
        let gvk = json!([{"group": k.group, "version": k.version, "kind": k.kind}]);
        let mut schema = k.schema.clone().unwrap_or_else(
            || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
        );
        schema["properties"]["apiVersion"] = json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."});
        schema["properties"]["kind"] = json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."});
        schema["properties"]["metadata"] = json!({"allOf": [{"$ref": format!("#/components/schemas/{OBJECT_META}")}], "default": {}});
        schema["x-kubernetes-group-version-kind"] = gvk.clone();
        schemas.insert(name.clone(), schema);

        let base = if k.group.is_empty() {
            format!("/api/{}", k.version)
        } else {
            format!("/apis/{}/{}", k.group, k.version)
        };
        let item = if k.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", k.plural)
        } else {
            format!("{base}/{}/{{name}}", k.plural)
        };
        let body_ref = json!({"$ref": format!("#/components/schemas/{name}")});
        let op = |action: &str, extra: Vec<Value>| {
            let mut parameters = vec![
                json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}),
            ];
            if k.namespaced {
                parameters.push(json!({"name": "namespace", "in": "path", "required": true, "schema": {"type": "string"}}));
            }
            parameters.extend(extra);
            json!({
                "operationId": format!("{action}{}", k.kind),
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk[0],
                "parameters": parameters,
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": body_ref}}}},
            })
        };
        let query = |name: &str, description: &str| json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}});
        let writes = || {
            vec![
                query("dryRun", "When present, modifications are not persisted."),
                query(
                    "fieldManager",
                    "The name of the actor making these changes.",
                ),
                query(
                    "fieldValidation",
                    "Ignore, Warn or Strict: how unknown or duplicate fields in the request are treated.",
                ),
            ]
        };
        let mut patch_params = writes();
        patch_params.push(query(
            "force",
            "Force an apply that conflicts with another manager.",
        ));
        paths.insert(
            item,
            json!({
                "get": op("get", vec![]),
                "put": op("put", writes()),
                "patch": op("patch", patch_params),
                "delete": op("delete", vec![]),
            }),
        );
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0-webedt-testapi"},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

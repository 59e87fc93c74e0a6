//! Shared test helpers: parsing WebEDTs from YAML, and an offline stand-in for the apiserver's
//! admission of a WebEDT (structural schema check, defaulting, CEL rules).

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::EnvVar;
use kube::CustomResourceExt;
use kube::core::cel::{Validator, apply_defaults};
use serde_json::Value;
use webedt_operator::build::{Inputs, deployment};
use webedt_operator::crd::WebEDT;
use webedt_operator::validate::{ValidatedWebEDT, validate};

pub fn workspace_file(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel)
}

pub fn examples() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(workspace_file("examples"))
        .expect("examples/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// A WebEDT from a YAML snippet of its spec (name `demo`, no namespace).
pub fn cr(spec_yaml: &str) -> WebEDT {
    let spec: Value = serde_yaml::from_str(spec_yaml).expect("spec YAML parses");
    serde_json::from_value(serde_json::json!({
        "apiVersion": "webedt.dev/v1alpha1",
        "kind": "WebEDT",
        "metadata": {"name": "demo"},
        "spec": spec,
    }))
    .expect("spec deserializes into a WebEDT")
}

pub const MINIMAL: &str =
    "image: ghcr.io/webedt/webedt-api:1.2.3\ndatabase: {secretRef: {name: db}}";

/// A validated WebEDT: MINIMAL plus `extra` spec fields (YAML mapping lines).
pub fn validated(extra: &str) -> ValidatedWebEDT {
    validate(&cr(&format!("{MINIMAL}\n{extra}")), "ns").expect("spec is valid")
}

/// The CRD's openAPIV3Schema as JSON.
/// What the reconciler would have dereferenced: a fixed Secret hash and session secret.
pub fn inputs() -> Inputs {
    Inputs {
        secret_hash: "h1".into(),
        worker_secret_hash: "w1".into(),
        new_session_secret: "s".repeat(43),
        new_worker_secret: "w".repeat(64),
        new_credentials_keys: "k1:placeholder".into(),
    }
}

/// The Deployment built for a minimal spec plus `extra`.
pub fn deploy(extra: &str) -> Deployment {
    deployment::build(&validated(extra), &inputs())
}

/// The API container's environment for a minimal spec plus `extra`.
pub fn env_for(extra: &str) -> Vec<EnvVar> {
    deploy(extra).spec.template.spec.unwrap().containers[0]
        .env
        .clone()
        .unwrap()
}

pub fn crd_schema() -> Value {
    let crd = WebEDT::crd();
    serde_json::to_value(
        crd.spec.versions[0]
            .schema
            .as_ref()
            .and_then(|s| s.open_api_v3_schema.as_ref())
            .unwrap(),
    )
    .unwrap()
}

/// What the apiserver would say about creating `obj` (a WebEDT as JSON): structural errors,
/// then CEL rule failures after defaulting. Empty means admitted.
pub fn admission_errors(obj: &Value) -> Vec<String> {
    let schema = crd_schema();
    let mut errors = Vec::new();
    structural(&schema, obj, "", true, &mut errors);
    if !errors.is_empty() {
        return errors;
    }
    let defaulted = apply_defaults(&schema, obj);
    if let Err(e) = Validator::new().validate(&schema, &defaulted, None) {
        errors.extend(e.iter().map(|e| e.to_string()));
    }
    errors
}

/// Admission errors of a WebEDT whose spec is `spec_yaml`.
pub fn spec_errors(spec_yaml: &str) -> Vec<String> {
    spec_errors_named("demo", spec_yaml)
}

pub fn spec_errors_named(name: &str, spec_yaml: &str) -> Vec<String> {
    let spec: Value = serde_yaml::from_str(spec_yaml).expect("spec YAML parses");
    admission_errors(&serde_json::json!({
        "apiVersion": "webedt.dev/v1alpha1",
        "kind": "WebEDT",
        "metadata": {"name": name},
        "spec": spec,
    }))
}

/// The OpenAPI v3 checks a structural CRD schema implies: types, required fields, enums,
/// numeric and length bounds, string patterns, and no unknown fields (what `kubectl apply
/// --validate=strict` rejects). `format` is not checked.
pub fn structural(schema: &Value, v: &Value, path: &str, root: bool, errors: &mut Vec<String>) {
    let s = |k: &str| schema.get(k);
    if v.is_null() {
        if s("nullable") != Some(&Value::Bool(true)) {
            errors.push(format!("{path}: must not be null"));
        }
        return;
    }
    if s("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        if !(v.is_i64() || v.is_u64() || v.is_string()) {
            errors.push(format!("{path}: must be an integer or a string"));
        }
        return;
    }
    if let Some(Value::Array(allowed)) = s("enum")
        && !allowed.contains(v)
    {
        errors.push(format!("{path}: {v} is not one of {allowed:?}"));
    }
    let preserve = s("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    match s("type").and_then(Value::as_str) {
        Some("object") => {
            let Some(map) = v.as_object() else {
                errors.push(format!("{path}: must be an object"));
                return;
            };
            for r in s("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let r = r.as_str().unwrap();
                if !map.contains_key(r) {
                    errors.push(format!("{path}.{r}: required"));
                }
            }
            let props = s("properties").and_then(Value::as_object);
            let additional = s("additionalProperties").filter(|a| a.is_object());
            for (k, child) in map {
                // The apiserver checks these of every object itself; CRD schemas leave them out.
                if root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                let p = format!("{path}.{k}");
                match (props.and_then(|p| p.get(k)), additional) {
                    (Some(cs), _) | (None, Some(cs)) => structural(cs, child, &p, false, errors),
                    (None, None) if preserve => {}
                    (None, None) => errors.push(format!("{p}: unknown field")),
                }
            }
        }
        Some("array") => {
            let Some(items) = v.as_array() else {
                errors.push(format!("{path}: must be an array"));
                return;
            };
            if let Some(max) = s("maxItems").and_then(Value::as_u64)
                && items.len() as u64 > max
            {
                errors.push(format!("{path}: more than {max} items"));
            }
            if let Some(item_schema) = s("items") {
                for (i, item) in items.iter().enumerate() {
                    structural(item_schema, item, &format!("{path}[{i}]"), false, errors);
                }
            }
        }
        Some("string") => match v.as_str() {
            None => errors.push(format!("{path}: must be a string")),
            Some(text) => {
                let n = text.chars().count() as u64;
                if s("maxLength")
                    .and_then(Value::as_u64)
                    .is_some_and(|m| n > m)
                {
                    errors.push(format!("{path}: longer than maxLength"));
                }
                if s("minLength")
                    .and_then(Value::as_u64)
                    .is_some_and(|m| n < m)
                {
                    errors.push(format!("{path}: shorter than minLength"));
                }
                if let Some(pattern) = s("pattern").and_then(Value::as_str)
                    && !regex::Regex::new(pattern)
                        .expect("CRD patterns compile")
                        .is_match(text)
                {
                    errors.push(format!("{path}: should match '{pattern}'"));
                }
            }
        },
        Some(t @ ("integer" | "number")) => {
            let ok = if t == "integer" {
                v.is_i64() || v.is_u64()
            } else {
                v.is_number()
            };
            if !ok {
                errors.push(format!("{path}: must be of type {t}"));
                return;
            }
            let x = v.as_f64().unwrap();
            if s("minimum").and_then(Value::as_f64).is_some_and(|m| x < m) {
                errors.push(format!("{path}: below minimum"));
            }
            if s("maximum").and_then(Value::as_f64).is_some_and(|m| x > m) {
                errors.push(format!("{path}: above maximum"));
            }
        }
        Some("boolean") if !v.is_boolean() => errors.push(format!("{path}: must be a boolean")),
        _ => {}
    }
}

/// The pod template's spec of a Deployment.
pub fn pod(d: &Deployment) -> &k8s_openapi::api::core::v1::PodSpec {
    d.spec.template.spec.as_ref().unwrap()
}

/// The first container's environment.
pub fn env(d: &Deployment) -> Vec<EnvVar> {
    pod(d).containers[0].env.clone().unwrap()
}

/// The literal variables of `env`, by name.
pub fn plain(env: &[EnvVar]) -> std::collections::BTreeMap<String, String> {
    env.iter()
        .filter_map(|e| e.value.clone().map(|v| (e.name.clone(), v)))
        .collect()
}

/// (secret name, key) of a secretKeyRef variable.
pub fn secret_of(env: &[EnvVar], name: &str) -> Option<(String, String)> {
    let e = env.iter().find(|e| e.name == name)?;
    let r = e.value_from.as_ref()?.secret_key_ref.as_ref()?;
    assert!(e.value.is_none(), "{name} is a literal");
    Some((r.name.clone(), r.key.clone()))
}

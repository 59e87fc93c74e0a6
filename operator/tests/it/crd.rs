//! The generated CRD: the committed file, its shape, its schema and CEL rules, checked offline
//! the way the apiserver would admit WebEDTs.

use crate::common::*;
use kube::CustomResourceExt;
use kube::core::cel::{ScopeContext, analyze_rule, compile_schema};
use serde_json::{Value, json};
use webedt_contract::{OrphanSettings, PoolSettings};
use webedt_operator::crd::WebEDT;
use webedt_operator::render;

const CRD_FILE: &str = "crds/webedt.dev_webedts.yaml";

#[test]
fn committed_crd_matches_the_generated_one() {
    let committed = std::fs::read_to_string(workspace_file(CRD_FILE)).unwrap_or_default();
    assert!(
        committed == render::crd_yaml(),
        "{CRD_FILE} is out of date; regenerate it with\n  cargo run -q -p webedt-operator -- crd > {CRD_FILE}"
    );
    let files: Vec<_> = std::fs::read_dir(workspace_file("crds"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files.len(), 1, "crds/ holds exactly the one CRD: {files:?}");
}

#[test]
fn crd_names_scope_subresources_and_columns() {
    let crd = serde_json::to_value(WebEDT::crd()).unwrap();
    assert_eq!(crd["metadata"]["name"], "webedts.webedt.dev");
    assert_eq!(crd["spec"]["group"], "webedt.dev");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["names"]["kind"], "WebEDT");
    assert_eq!(crd["spec"]["names"]["shortNames"], json!(["wedt"]));
    let v = &crd["spec"]["versions"][0];
    assert_eq!(v["name"], "v1alpha1");
    assert_eq!(v["subresources"]["status"], json!({}));
    assert_eq!(
        v["subresources"]["scale"],
        json!({
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        })
    );
    let columns: Vec<&str> = v["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        ["Ready", "Replicas", "Available", "Workers", "Image", "Age"]
    );
    let status = &v["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"];
    for field in [
        "observedGeneration",
        "replicas",
        "readyReplicas",
        "availableReplicas",
        "updatedReplicas",
        "selector",
        "endpoint",
        "workerReplicas",
        "workerReadyReplicas",
        "conditions",
    ] {
        assert!(status.get(field).is_some(), "status.{field} missing");
    }
    let condition = &status["conditions"]["items"]["properties"];
    for field in [
        "observedGeneration",
        "reason",
        "message",
        "lastTransitionTime",
    ] {
        assert!(condition.get(field).is_some(), "condition.{field} missing");
    }
}

/// `kubectl explain` shows descriptions: every field of the spec has one.
#[test]
fn every_spec_field_is_described() {
    fn walk(schema: &Value, path: &str, missing: &mut Vec<String>) {
        if schema
            .get("description")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            missing.push(path.to_string());
        }
        for (k, child) in schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            walk(child, &format!("{path}.{k}"), missing);
        }
        let items = schema.get("items").and_then(|i| i.get("properties"));
        for (k, child) in items.and_then(Value::as_object).into_iter().flatten() {
            walk(child, &format!("{path}[].{k}"), missing);
        }
    }
    let mut missing = Vec::new();
    walk(&crd_schema()["properties"]["spec"], "spec", &mut missing);
    walk(
        &crd_schema()["properties"]["status"],
        "status",
        &mut missing,
    );
    assert!(
        missing.is_empty(),
        "fields without description: {missing:#?}"
    );
}

#[test]
fn schema_defaults_are_the_contract_defaults() {
    let spec = &crd_schema()["properties"]["spec"]["properties"];
    let p = PoolSettings::default();
    assert_eq!(
        spec["pool"]["default"],
        json!({
            "maxConnections": p.max_connections,
            "minConnections": p.min_connections,
            "idleTimeoutMillis": p.idle_timeout_ms,
            "connectionTimeoutMillis": p.connect_timeout_ms,
            "statementTimeoutMs": p.statement_timeout_ms,
        })
    );
    let o = OrphanSettings::default();
    assert_eq!(
        spec["orphans"]["default"],
        json!({"timeoutMinutes": o.timeout_minutes, "cleanupIntervalMinutes": o.cleanup_interval_minutes})
    );
    assert_eq!(spec["replicas"]["default"], 2);
    assert_eq!(spec["replicas"]["minimum"], 0.0);
    assert_eq!(
        spec["database"]["properties"]["secretRef"]["properties"]["key"]["default"],
        "uri"
    );
    assert_eq!(
        spec["service"]["default"],
        json!({"type": "ClusterIP", "port": 80})
    );
    assert_eq!(
        spec["migrations"]["default"],
        json!({"mode": "Job", "backoffLimit": 4, "activeDeadlineSeconds": 1800})
    );
    assert_eq!(
        spec["podDisruptionBudget"]["default"],
        json!({"enabled": true, "maxUnavailable": 1})
    );
    assert_eq!(spec["paused"]["default"], false);
    assert!(
        spec["autoscaling"]["properties"]
            .get("targetCPUUtilizationPercentage")
            .is_some()
    );
    assert_eq!(
        crd_schema()["properties"]["spec"]["required"],
        json!(["database", "image"])
    );
}

/// The apiserver rejects CRDs whose rules may cost too much: every rule must touch only
/// bounded strings and lists.
#[test]
fn every_cel_rule_is_bounded() {
    fn walk(schema: &Value, path: &str, found: &mut usize, warnings: &mut Vec<String>) {
        if let Some(rules) = schema
            .get("x-kubernetes-validations")
            .and_then(Value::as_array)
        {
            let compiled = compile_schema(schema);
            for r in rules {
                *found += 1;
                let rule = r["rule"].as_str().unwrap();
                for w in analyze_rule(rule, &compiled, ScopeContext::CrdValidation) {
                    warnings.push(format!("{path}: {rule}: {}", w.message));
                }
            }
        }
        for (k, child) in schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            walk(child, &format!("{path}.{k}"), found, warnings);
        }
    }
    // The analysis does flag an unbounded rule (so an empty result below means something).
    let unbounded = json!({
        "type": "object",
        "properties": {"hosts": {"type": "array", "items": {"type": "string"}}},
    });
    let rule = "self.hosts.all(h, h.matches('^[a-z]+$'))";
    assert!(
        !analyze_rule(
            rule,
            &compile_schema(&unbounded),
            ScopeContext::CrdValidation
        )
        .is_empty()
    );

    let (mut found, mut warnings) = (0, Vec::new());
    let schema = crd_schema();
    // Root rules read metadata.name, which the apiserver bounds (253) but this schema does not
    // describe; they are checked on the spec and below.
    walk(
        &schema["properties"]["spec"],
        "spec",
        &mut found,
        &mut warnings,
    );
    assert!(found >= 12, "expected the spec's CEL rules, found {found}");
    assert!(warnings.is_empty(), "{warnings:#?}");
}

#[test]
fn the_schema_checker_itself_rejects_what_the_apiserver_rejects() {
    assert!(
        !spec_errors(&format!("{MINIMAL}\nreplica: 3")).is_empty(),
        "unknown field"
    );
    assert!(
        !spec_errors(&format!("{MINIMAL}\nreplicas: two")).is_empty(),
        "wrong type"
    );
    assert!(!spec_errors("image: x").is_empty(), "missing database");
    assert!(
        !spec_errors(&format!("{MINIMAL}\nreplicas: -1")).is_empty(),
        "below minimum"
    );
    assert!(
        !spec_errors(&format!("{MINIMAL}\nmigrations: {{mode: Sometimes}}")).is_empty(),
        "enum"
    );
    assert!(
        !spec_errors(&format!("{MINIMAL}\nimage: ''")).is_empty(),
        "minLength"
    );
}

#[test]
fn good_specs_are_admitted() {
    let good = [
        MINIMAL.to_string(),
        format!("{MINIMAL}\nreplicas: 0"),
        format!("{MINIMAL}\npool: {{maxConnections: 5, minConnections: 5}}"),
        format!("{MINIMAL}\norphans: {{timeoutMinutes: 0.5, cleanupIntervalMinutes: 0.5}}"),
        format!("{MINIMAL}\nautoscaling: {{enabled: true, minReplicas: 3, maxReplicas: 3}}"),
        format!(
            "{MINIMAL}\nautoscaling: {{enabled: true}}\nresources: {{requests: {{cpu: 200m}}}}"
        ),
        format!(
            "{MINIMAL}\ningress: {{enabled: true, host: a.example.com, tls: {{secretName: t}}}}"
        ),
        format!("{MINIMAL}\ningress: {{enabled: true}}"),
        format!(
            "{MINIMAL}\nproviders: {{anthropic: {{apiKeySecretRef: {{name: p, key: k}}}}, \
             openai: {{baseUrl: 'http://ollama:11434/v1'}}, worker: {{url: 'https://w'}}, default: openai}}"
        ),
        format!("{MINIMAL}\nproviders: {{default: demo}}"),
        format!("{MINIMAL}\nworker: {{enabled: false}}"),
        format!(
            "{MINIMAL}\nworker: {{enabled: true, image: w, workspaceSizeLimit: 500Mi, \
             autoscaling: {{enabled: true, maxReplicas: 4}}}}\nproviders: {{default: worker}}"
        ),
    ];
    for spec in &good {
        assert_eq!(spec_errors(spec), Vec::<String>::new(), "{spec}");
    }
}

#[test]
fn bad_specs_are_rejected_with_a_message_naming_the_field() {
    let bad: &[(&str, &str)] = &[
        (
            "pool: {maxConnections: 2, minConnections: 3}",
            "pool.minConnections must be <= pool.maxConnections",
        ),
        (
            "pool: {maxConnections: 0, minConnections: 0}",
            "pool.maxConnections must be greater than 0",
        ),
        (
            "pool: {idleTimeoutMillis: 0}",
            "pool.idleTimeoutMillis must be greater than 0",
        ),
        (
            "pool: {connectionTimeoutMillis: 0}",
            "pool.connectionTimeoutMillis must be greater than 0",
        ),
        (
            "pool: {statementTimeoutMs: 0}",
            "pool.statementTimeoutMs must be greater than 0",
        ),
        (
            "orphans: {timeoutMinutes: 0, cleanupIntervalMinutes: 0}",
            "orphans.timeoutMinutes must be greater than 0",
        ),
        (
            "orphans: {cleanupIntervalMinutes: -1}",
            "orphans.cleanupIntervalMinutes must be greater than 0",
        ),
        (
            "orphans: {timeoutMinutes: 1, cleanupIntervalMinutes: 2}",
            "orphans.cleanupIntervalMinutes must be <= orphans.timeoutMinutes",
        ),
        // The default cleanup interval (5) is above a 2-minute timeout.
        (
            "orphans: {timeoutMinutes: 2}",
            "orphans.cleanupIntervalMinutes must be <= orphans.timeoutMinutes",
        ),
        (
            "autoscaling: {enabled: true, minReplicas: 5, maxReplicas: 2}",
            "autoscaling.minReplicas must be <= autoscaling.maxReplicas",
        ),
        (
            "autoscaling: {enabled: true}\nresources: {requests: {memory: 1Gi}}",
            "needs resources.requests.cpu",
        ),
        (
            "ingress: {enabled: true, tls: {secretName: t}}",
            "ingress.tls needs ingress.host",
        ),
        (
            "providers: {anthropic: {model: m}}",
            "providers.anthropic needs apiKeySecretRef",
        ),
        (
            "providers: {default: worker}",
            "providers.default is worker but neither worker.enabled nor providers.worker is configured",
        ),
        (
            "providers: {default: openai}",
            "providers.default is openai",
        ),
        (
            "providers: {default: anthropic}",
            "providers.default is anthropic",
        ),
        (
            "providers: {worker: {url: 'ftp://w'}}",
            "worker.url must start with http:// or https://",
        ),
        (
            "providers: {openai: {baseUrl: 'api.openai.com'}}",
            "baseUrl must start with http:// or https://",
        ),
        ("worker: {enabled: true}", "worker.image is required"),
        (
            "worker: {enabled: true, image: w}\nproviders: {worker: {url: 'http://w'}}",
            "remove providers.worker",
        ),
        (
            "worker: {image: w, workspaceSizeLimit: 8G}",
            ".spec.worker.workspaceSizeLimit: should match",
        ),
        (
            "worker: {image: w, replicas: -1}",
            ".spec.worker.replicas: below minimum",
        ),
        (
            "worker: {enabled: true, image: w, autoscaling: {enabled: true}, resources: {requests: {memory: 1Gi}}}",
            "worker.autoscaling on CPU utilization needs worker.resources.requests.cpu",
        ),
        (
            "worker: {image: w, autoscaling: {minReplicas: 4, maxReplicas: 2}}",
            "autoscaling.minReplicas must be <= autoscaling.maxReplicas",
        ),
    ];
    for (extra, expected) in bad {
        let errors = spec_errors(&format!("{MINIMAL}\n{extra}"));
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{extra}: expected `{expected}`, got {errors:?}"
        );
    }
}

#[test]
fn names_that_break_child_object_names_are_rejected() {
    assert!(spec_errors_named(&"a".repeat(40), MINIMAL).is_empty());
    let long = spec_errors_named(&"a".repeat(41), MINIMAL);
    assert!(long.iter().any(|e| e.contains("at most 40")), "{long:?}");
    let dotted = spec_errors_named("my.webedt", MINIMAL);
    assert!(dotted.iter().any(|e| e.contains("DNS-1035")), "{dotted:?}");
    let digit = spec_errors_named("1webedt", MINIMAL);
    assert!(digit.iter().any(|e| e.contains("DNS-1035")), "{digit:?}");
}

/// Each example's WebEDTs pass the schema and CEL rules, deserialize, and validate in Rust.
#[test]
fn every_example_is_admitted() {
    let files = examples();
    assert!(files.len() >= 3, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut webedts = 0;
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(doc).unwrap();
            if value["kind"] != "WebEDT" {
                continue;
            }
            webedts += 1;
            assert_eq!(
                admission_errors(&value),
                Vec::<String>::new(),
                "{}",
                file.display()
            );
            let cr: WebEDT = serde_json::from_value(value).unwrap();
            webedt_operator::validate::validate(&cr, "default")
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
        assert_eq!(webedts, 1, "{} has one WebEDT", file.display());
    }
}

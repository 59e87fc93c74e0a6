//! `render` and `crd` as a user runs them: through the binary, and through the library.

use crate::common::*;
use serde_json::Value;
use std::process::Command;
use webedt_operator::render::{self, render};

fn docs(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn kinds(yaml: &str) -> Vec<String> {
    docs(yaml)
        .iter()
        .map(|d| d["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn render_skips_other_documents_and_defaults_the_namespace() {
    let input = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\n---\n---\n\
         apiVersion: webedt.dev/v1alpha1\nkind: WebEDT\nmetadata: {{name: one}}\nspec:\n  {}\n",
        MINIMAL.replace('\n', "\n  ")
    );
    let out = render(&input, "in.yaml").unwrap();
    assert_eq!(
        kinds(&out.yaml),
        [
            "Secret",
            "Secret",
            "Job",
            "Deployment",
            "Service",
            "PodDisruptionBudget"
        ]
    );
    for d in docs(&out.yaml) {
        assert_eq!(d["metadata"]["namespace"], render::DEFAULT_NAMESPACE);
        assert_ne!(d["kind"], "ConfigMap");
    }
}

#[test]
fn render_uses_placeholders_for_cluster_only_values() {
    let out = render(
        &std::fs::read_to_string(workspace_file("examples/minimal.yaml")).unwrap(),
        "m",
    )
    .unwrap();
    let all = docs(&out.yaml);
    let secret = all.iter().find(|d| d["kind"] == "Secret").unwrap();
    assert_eq!(
        secret["stringData"]["secret"],
        webedt_operator::build::PLACEHOLDER
    );
    let deployment = all.iter().find(|d| d["kind"] == "Deployment").unwrap();
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["annotations"]["webedt.dev/secret-hash"],
        webedt_operator::build::PLACEHOLDER
    );
    assert_eq!(
        deployment["metadata"]["ownerReferences"][0]["uid"],
        webedt_operator::build::PLACEHOLDER_UID
    );
}

#[test]
fn render_refuses_files_without_a_webedt_and_invalid_webedts() {
    let err = render("apiVersion: v1\nkind: ConfigMap\n", "cm.yaml").unwrap_err();
    assert_eq!(err.reason(), "NoWebEDT");
    let bad =
        "apiVersion: webedt.dev/v1alpha1\nkind: WebEDT\nmetadata: {name: x}\nspec: {image: i}\n";
    assert_eq!(render(bad, "b").unwrap_err().reason(), "InvalidManifest");
    let pool = format!(
        "apiVersion: webedt.dev/v1alpha1\nkind: WebEDT\nmetadata: {{name: x}}\nspec:\n  {}\n  pool: {{maxConnections: 1, minConnections: 2}}\n",
        MINIMAL.replace('\n', "\n  ")
    );
    let err = render(&pool, "p").unwrap_err();
    assert_eq!(err.reason(), "InvalidPoolSettings");
    assert!(err.to_string().contains("DB_POOL_MIN"), "{err}");
}

#[test]
fn every_example_renders() {
    for file in examples() {
        let out = render(&std::fs::read_to_string(&file).unwrap(), "x")
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let k = kinds(&out.yaml);
        assert!(
            k.contains(&"Deployment".to_string()),
            "{}: {k:?}",
            file.display()
        );
        assert!(!k.contains(&"WebEDT".to_string()) && !k.contains(&"Cluster".to_string()));
    }
    let full = render(
        &std::fs::read_to_string(workspace_file("examples/autoscaling-ingress.yaml")).unwrap(),
        "x",
    )
    .unwrap();
    assert_eq!(
        kinds(&full.yaml),
        [
            "Secret",
            "Job",
            "Deployment",
            "Service",
            "PodDisruptionBudget",
            "HorizontalPodAutoscaler",
            "Ingress",
            "NetworkPolicy",
            "ServiceMonitor"
        ]
    );
}

fn binary(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_webedt-operator"))
        .args(args)
        .current_dir(workspace_file(""))
        .output()
        .unwrap()
}

#[test]
fn binary_prints_the_crd_and_renders_files() {
    let crd = binary(&["crd"]);
    assert!(crd.status.success());
    assert_eq!(String::from_utf8(crd.stdout).unwrap(), render::crd_yaml());

    let out = binary(&["render", "-f", "examples/cloudnativepg.yaml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(kinds(&String::from_utf8(out.stdout).unwrap()).contains(&"Deployment".to_string()));

    let missing = binary(&["render", "-f", "does-not-exist.yaml"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("ReadInput"));
}

#[test]
fn binary_warns_about_findings_on_stderr() {
    let dir = std::env::temp_dir().join(format!("webedt-render-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("budget.yaml");
    std::fs::write(
        &file,
        "apiVersion: webedt.dev/v1alpha1\nkind: WebEDT\nmetadata: {name: b}\nspec:\n  image: i\n  \
         replicas: 5\n  database: {secretRef: {name: db}, maxConnections: 10}\n",
    )
    .unwrap();
    let out = binary(&["render", "-f", file.to_str().unwrap()]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning (ConnectionBudgetExceeded)"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

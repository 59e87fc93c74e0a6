//! The Helm chart ships the generated CRD: `charts/webedt-operator/crds/` must hold exactly the
//! committed `crds/webedt.dev_webedts.yaml`, byte for byte (that file is checked against
//! `webedt-operator crd` by `crd.rs`), and the chart's appVersion is the workspace version.

use std::path::{Path, PathBuf};

const CRD_FILE: &str = "webedt.dev_webedts.yaml";
const CHART: &str = "charts/webedt-operator";

fn workspace_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

#[test]
fn chart_crd_is_the_committed_crd() {
    let committed = std::fs::read(workspace_file(&format!("crds/{CRD_FILE}"))).unwrap();
    let chart_path = format!("{CHART}/crds/{CRD_FILE}");
    let in_chart = std::fs::read(workspace_file(&chart_path)).unwrap_or_default();
    assert!(
        in_chart == committed,
        "{chart_path} differs from crds/{CRD_FILE}; copy it:\n  cp crds/{CRD_FILE} {chart_path}"
    );
    let files: Vec<_> = std::fs::read_dir(workspace_file(&format!("{CHART}/crds")))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        files.len(),
        1,
        "{CHART}/crds/ holds exactly the one CRD: {files:?}"
    );
}

#[test]
fn chart_app_version_is_the_workspace_version() {
    let chart: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(workspace_file(&format!("{CHART}/Chart.yaml"))).unwrap(),
    )
    .unwrap();
    assert_eq!(
        chart["appVersion"].as_str(),
        Some(env!("CARGO_PKG_VERSION")),
        "{CHART}/Chart.yaml appVersion (the default image tag) must be the workspace version"
    );
}

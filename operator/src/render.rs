//! `render`: the objects the operator would create, computed offline from manifests.
//!
//! Values that only exist in a cluster are placeholders ([`crate::build::PLACEHOLDER`],
//! [`crate::build::PLACEHOLDER_UID`]): the owner uid, the Secret hash, the generated session
//! secret. The output is for review and schema checks, not for `kubectl apply`.

use crate::build::{self, Inputs};
use crate::crd::{GROUP, KIND, VERSION, WebEDT};
use crate::error::{Error, Result};
use crate::validate::{self, Finding};
use crate::yaml;
use serde::Deserialize;

/// Namespace of a manifest without one, like `kubectl apply` without `-n`.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Result of rendering one file.
#[derive(Debug, Default)]
pub struct Rendered {
    /// Multi-document YAML, one document per object.
    pub yaml: String,
    /// Findings per `WebEDT` name, for the user (stderr).
    pub findings: Vec<(String, Finding)>,
}

/// The `WebEDT`s in a multi-document YAML string; other documents are skipped.
pub fn webedts(input: &str) -> Result<Vec<WebEDT>> {
    let api_version = format!("{GROUP}/{VERSION}");
    let mut out = Vec::new();
    for (index, doc) in serde_yaml::Deserializer::from_str(input).enumerate() {
        let value = serde_yaml::Value::deserialize(doc)
            .map_err(|source| Error::InvalidManifest { index, source })?;
        let is_webedt = value.get("kind").and_then(|k| k.as_str()) == Some(KIND)
            && value.get("apiVersion").and_then(|k| k.as_str()) == Some(api_version.as_str());
        if !is_webedt {
            continue;
        }
        let cr: WebEDT = serde_yaml::from_value(value)
            .map_err(|source| Error::InvalidManifest { index, source })?;
        out.push(cr);
    }
    Ok(out)
}

/// Renders every `WebEDT` in `input` (`path` names it in errors).
pub fn render(input: &str, path: &str) -> Result<Rendered> {
    let crs = webedts(input)?;
    if crs.is_empty() {
        return Err(Error::NoWebEDT { path: path.into() });
    }
    let mut rendered = Rendered::default();
    let mut docs = Vec::new();
    for cr in &crs {
        let v = validate::validate(cr, DEFAULT_NAMESPACE)?;
        for f in &v.findings {
            rendered.findings.push((v.name.clone(), f.clone()));
        }
        for obj in build::desired(&v, &Inputs::offline()).objects {
            docs.push(yaml::to_yaml(&obj.to_json()?));
        }
    }
    rendered.yaml = docs.iter().map(|d| format!("---\n{d}")).collect::<String>();
    Ok(rendered)
}

/// The CRD as one YAML document (what `crds/` holds).
pub fn crd_yaml() -> String {
    use kube::CustomResourceExt;
    let json = serde_json::to_value(WebEDT::crd()).expect("the CRD serializes to JSON");
    yaml::to_yaml(&json)
}

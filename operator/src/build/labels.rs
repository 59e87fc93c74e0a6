//! Labels and selectors (`app.kubernetes.io/*`). The selector uses only labels that never change
//! for an instance: a Deployment's selector is immutable.

use std::collections::BTreeMap;

pub const NAME: &str = "app.kubernetes.io/name";
pub const INSTANCE: &str = "app.kubernetes.io/instance";
pub const COMPONENT: &str = "app.kubernetes.io/component";
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const VERSION: &str = "app.kubernetes.io/version";

pub const APP: &str = "webedt";
pub const MANAGER: &str = "webedt-operator";

/// What an object is for, the value of `app.kubernetes.io/component`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    /// The API pods and everything around them.
    Api,
    /// The migration Job.
    Migration,
    /// The generated session Secret.
    SessionSecret,
    /// The generated credentials keys Secret.
    CredentialsSecret,
    /// The coding-agent workers and everything around them (spec.worker).
    Worker,
}

impl Component {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Migration => "migration",
            Self::SessionSecret => "session-secret",
            Self::CredentialsSecret => "credentials-secret",
            Self::Worker => "worker",
        }
    }
}

/// Labels selecting one instance's pods of one component.
pub fn selector(instance: &str, component: Component) -> BTreeMap<String, String> {
    BTreeMap::from([
        (NAME.to_string(), APP.to_string()),
        (INSTANCE.to_string(), instance.to_string()),
        (COMPONENT.to_string(), component.as_str().to_string()),
    ])
}

/// The API pods' selector as a string, for `status.selector` (scale subresource).
pub fn selector_string(instance: &str) -> String {
    selector(instance, Component::Api)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Every label of an object: the selector plus `managed-by` and `version`.
pub fn labels(instance: &str, component: Component, image: &str) -> BTreeMap<String, String> {
    let mut l = selector(instance, component);
    l.insert(MANAGED_BY.to_string(), MANAGER.to_string());
    l.insert(VERSION.to_string(), version_from_image(image));
    l
}

/// The image tag as a label value (at most 63 characters of `[A-Za-z0-9._-]`, alphanumeric at
/// both ends). A digest-only reference yields `sha256-<12 hex>`; no tag at all is `latest`.
pub fn version_from_image(image: &str) -> String {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    let raw = match (last_segment.rsplit_once(':'), digest) {
        (Some((_, tag)), _) => tag.to_string(),
        (None, Some(d)) => d.replace(':', "-").chars().take(19).collect(),
        (None, None) => "latest".to_string(),
    };
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "unknown".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_label_is_the_tag_or_a_digest_prefix() {
        assert_eq!(version_from_image("ghcr.io/webedt/api:1.2.3"), "1.2.3");
        assert_eq!(version_from_image("localhost:5000/api:v2"), "v2");
        assert_eq!(version_from_image("localhost:5000/api"), "latest");
        assert_eq!(version_from_image("api"), "latest");
        assert_eq!(
            version_from_image("api@sha256:0123456789abcdef0123"),
            "sha256-0123456789ab"
        );
        assert_eq!(version_from_image("api:1.0@sha256:abc"), "1.0");
        let long = format!("api:{}", "a".repeat(100));
        assert_eq!(version_from_image(&long).len(), 63);
        assert_eq!(version_from_image("api:_x_"), "x");
    }

    #[test]
    fn selector_string_matches_the_selector_labels() {
        assert_eq!(
            selector_string("demo"),
            "app.kubernetes.io/component=api,app.kubernetes.io/instance=demo,app.kubernetes.io/name=webedt"
        );
    }
}

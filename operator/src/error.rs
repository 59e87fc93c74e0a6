//! Errors of the operator. Variant names double as Kubernetes Event reasons (`reason()`), so
//! they are UpperCamelCase nouns/phrases a user can search for.

use webedt_contract::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the WebEDT has no metadata.name")]
    MissingName,

    #[error("metadata.name `{name}` {rule}")]
    InvalidName { name: String, rule: &'static str },

    #[error("spec.pool: {0}")]
    InvalidPoolSettings(ConfigError),

    #[error("spec.orphans: {0}")]
    InvalidOrphanSettings(ConfigError),

    #[error("spec.autoscaling.minReplicas ({min}) must be <= spec.autoscaling.maxReplicas ({max})")]
    InvalidAutoscaling { min: i32, max: i32 },

    #[error("spec.env sets {name}, which the operator manages; use the matching spec field")]
    ReservedEnvVar { name: String },

    #[error("reading {path}: {source}")]
    ReadInput {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("document {index} of the input is not valid YAML or not a valid WebEDT: {source}")]
    InvalidManifest {
        index: usize,
        #[source]
        source: serde_yaml::Error,
    },

    #[error("{path} holds no WebEDT (apiVersion webedt.dev/v1alpha1, kind WebEDT)")]
    NoWebEDT { path: String },

    #[error("serializing {what}: {message}")]
    SerializationFailed { what: String, message: String },
}

impl Error {
    /// The Kubernetes Event reason for this error: the variant name.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingName => "MissingName",
            Self::InvalidName { .. } => "InvalidName",
            Self::InvalidPoolSettings(_) => "InvalidPoolSettings",
            Self::InvalidOrphanSettings(_) => "InvalidOrphanSettings",
            Self::InvalidAutoscaling { .. } => "InvalidAutoscaling",
            Self::ReservedEnvVar { .. } => "ReservedEnvVar",
            Self::ReadInput { .. } => "ReadInput",
            Self::InvalidManifest { .. } => "InvalidManifest",
            Self::NoWebEDT { .. } => "NoWebEDT",
            Self::SerializationFailed { .. } => "SerializationFailed",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

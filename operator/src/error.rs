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

    #[error("spec.limits: {0}")]
    InvalidLimits(ConfigError),

    #[error("spec.events or spec.retention: {0}")]
    InvalidScaleSettings(ConfigError),

    #[error("spec.providers: {0}")]
    InvalidProviderSettings(ConfigError),

    #[error(
        "spec.database.pooler needs spec.database.directSecretRef: LISTEN and the migrations need a session of their own, which a transaction-mode pooler does not keep"
    )]
    PoolerWithoutDirectUrl,

    #[error("spec.database: {message}")]
    InvalidDatabase { message: String },

    #[error(
        "spec.rollout.maxSurge and spec.rollout.maxUnavailable are both 0: the rollout could never proceed"
    )]
    InvalidRollout,

    #[error("spec.{field}: {message}")]
    InvalidPodExtras { field: String, message: String },

    #[error("spec.autoscaling.minReplicas ({min}) must be <= spec.autoscaling.maxReplicas ({max})")]
    InvalidAutoscaling { min: i32, max: i32 },

    #[error("spec.worker.{field}: {message}")]
    InvalidWorker {
        field: &'static str,
        message: String,
    },

    #[error("spec.github.{field}: {message}")]
    InvalidGithub {
        field: &'static str,
        message: String,
    },

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

    #[error("the WebEDT cannot be read as a webedt.dev/v1alpha1 WebEDT: {message}")]
    InvalidObject { message: String },

    #[error("{message}")]
    SecretMissing { message: String },

    #[error(
        "migration Job {job} failed; the Deployment keeps the previous image (delete the Job to retry, or change spec.image)"
    )]
    MigrationFailed { job: String },

    #[error("reading {what}: {source}")]
    ReadFailed {
        what: String,
        #[source]
        source: kube::Error,
    },

    #[error("creating {what}: {source}")]
    CreateFailed {
        what: String,
        #[source]
        source: kube::Error,
    },

    #[error("applying {what}: {source}")]
    ApplyFailed {
        what: String,
        #[source]
        source: kube::Error,
    },

    #[error("deleting {what}: {source}")]
    DeleteFailed {
        what: String,
        #[source]
        source: kube::Error,
    },

    #[error("writing the status of {what}: {source}")]
    StatusUpdateFailed {
        what: String,
        #[source]
        source: kube::Error,
    },

    #[error("leader election: {0}")]
    LeaderElection(String),

    #[error("starting the operator: {0}")]
    Startup(String),
}

impl Error {
    /// The Kubernetes Event reason for this error: the variant name.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingName => "MissingName",
            Self::InvalidName { .. } => "InvalidName",
            Self::InvalidPoolSettings(_) => "InvalidPoolSettings",
            Self::InvalidOrphanSettings(_) => "InvalidOrphanSettings",
            Self::InvalidLimits(_) => "InvalidLimits",
            Self::InvalidScaleSettings(_) => "InvalidScaleSettings",
            Self::InvalidProviderSettings(_) => "InvalidProviderSettings",
            Self::PoolerWithoutDirectUrl => "PoolerWithoutDirectUrl",
            Self::InvalidDatabase { .. } => "InvalidDatabase",
            Self::InvalidPodExtras { .. } => "InvalidPodExtras",
            Self::InvalidRollout => "InvalidRollout",
            Self::InvalidAutoscaling { .. } => "InvalidAutoscaling",
            Self::InvalidWorker { .. } => "InvalidWorker",
            Self::InvalidGithub { .. } => "InvalidGithub",
            Self::ReservedEnvVar { .. } => "ReservedEnvVar",
            Self::ReadInput { .. } => "ReadInput",
            Self::InvalidManifest { .. } => "InvalidManifest",
            Self::NoWebEDT { .. } => "NoWebEDT",
            Self::SerializationFailed { .. } => "SerializationFailed",
            Self::InvalidObject { .. } => "InvalidObject",
            Self::SecretMissing { .. } => "SecretMissing",
            Self::MigrationFailed { .. } => "MigrationFailed",
            Self::ReadFailed { .. } => "ReadFailed",
            Self::CreateFailed { .. } => "CreateFailed",
            Self::ApplyFailed { .. } => "ApplyFailed",
            Self::DeleteFailed { .. } => "DeleteFailed",
            Self::StatusUpdateFailed { .. } => "StatusUpdateFailed",
            Self::LeaderElection(_) => "LeaderElection",
            Self::Startup(_) => "Startup",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

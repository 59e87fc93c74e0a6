//! The migration Job: `webedt-api migrate` once per image, before the pods need the schema.
//! Its name carries a hash of the image, so a new image gets a new Job and the old one stays
//! as a record; a Job's pod template is immutable, so it is created, never updated.

use super::labels::Component;
use super::pod::{self, non_empty, non_empty_vec};
use super::{Role, api_env, hex, object_meta, pod_labels};
use crate::validate::ValidatedWebEDT;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sha2::{Digest, Sha256};

pub const CONTAINER_NAME: &str = "migrate";
/// The API binary and its migrate subcommand (apply migrations, then exit).
pub const COMMAND: [&str; 2] = ["webedt-api", "migrate"];

/// `<name>-migrate-<first 8 hex of sha256(image)>`.
pub fn job_name(name: &str, image: &str) -> String {
    let digest = hex(&Sha256::digest(image.as_bytes()));
    format!("{name}-migrate-{}", &digest[..8])
}

pub fn build(v: &ValidatedWebEDT) -> Job {
    let spec = &v.spec;
    let meta = object_meta(v, Role::MigrationJob);
    Job {
        spec: Some(JobSpec {
            backoff_limit: Some(spec.migrations.backoff_limit),
            // A migration that hangs (a lock held elsewhere) must fail visibly.
            active_deadline_seconds: Some(spec.migrations.active_deadline_seconds),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels(v, Component::Migration)),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".into()),
                    containers: vec![Container {
                        name: CONTAINER_NAME.into(),
                        image: Some(spec.image.clone()),
                        image_pull_policy: spec.image_pull_policy.map(|p| p.as_str().into()),
                        command: Some(COMMAND.iter().map(|s| s.to_string()).collect()),
                        // Same environment as the API: `migrate` parses the same settings.
                        env: Some(api_env(v)),
                        // The database CA bundle and the like reach the Job as they reach the
                        // API pods; init containers and sidecars do not (a sidecar would keep
                        // the Job from completing).
                        env_from: non_empty_vec(&spec.env_from),
                        resources: Some(
                            spec.migrations
                                .resources
                                .clone()
                                .unwrap_or_else(|| pod::resources(v)),
                        ),
                        security_context: Some(pod::container_security_context()),
                        volume_mounts: Some(pod::volume_mounts(v)),
                        ..Default::default()
                    }],
                    volumes: Some(pod::volumes(v)),
                    security_context: Some(pod::pod_security_context()),
                    automount_service_account_token: Some(spec.automount_service_account_token),
                    service_account_name: spec.service_account_name.clone(),
                    priority_class_name: spec.priority_class_name.clone(),
                    enable_service_links: Some(false),
                    image_pull_secrets: non_empty_vec(&spec.image_pull_secrets),
                    node_selector: non_empty(&spec.node_selector),
                    tolerations: non_empty_vec(&spec.tolerations),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        metadata: meta,
        status: None,
    }
}

//! Pod pieces shared by the API Deployment and the migration Job: the hardened security
//! contexts, the writable /tmp, default resources and scheduling.

use super::labels::{self, Component};
use crate::validate::ValidatedWebEDT;
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMapVolumeSource, EmptyDirVolumeSource, KeyToPath,
    PodAffinityTerm, PodAntiAffinity, PodSecurityContext, ResourceRequirements, SeccompProfile,
    SecretVolumeSource, SecurityContext, Volume, VolumeMount, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use std::collections::BTreeMap;

/// The image's non-root user and group.
pub const RUN_AS: i64 = 65532;
pub const TMP_VOLUME: &str = "tmp";
/// The database CA bundle (spec.database.tls), mounted read-only.
pub const DB_CA_VOLUME: &str = "db-ca";
const DB_CA_DIR: &str = "/etc/webedt/db-ca";
/// DB_SSLROOTCERT: the CA bundle's path in the pods.
pub const DB_CA_FILE: &str = "/etc/webedt/db-ca/ca.crt";

pub fn pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS),
        run_as_group: Some(RUN_AS),
        fs_group: Some(RUN_AS),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        }),
        ..Default::default()
    }
}

pub fn container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        privileged: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            add: None,
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            localhost_profile: None,
        }),
        ..Default::default()
    }
}

/// The API writes only to /tmp; everything else is read-only.
pub fn tmp_volume() -> Volume {
    Volume {
        name: TMP_VOLUME.into(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: None,
            mode: None,
            size_limit: Some(Quantity("256Mi".into())),
        }),
        ..Default::default()
    }
}

pub fn tmp_mount() -> VolumeMount {
    VolumeMount {
        name: TMP_VOLUME.into(),
        mount_path: "/tmp".into(),
        ..Default::default()
    }
}

/// /tmp, the database CA when configured, then spec.volumes.
pub fn volumes(v: &ValidatedWebEDT) -> Vec<Volume> {
    let mut all = vec![tmp_volume()];
    all.extend(db_ca_volume(v));
    all.extend(v.volumes.iter().cloned());
    all
}

/// /tmp, the database CA when configured, then spec.volumeMounts.
pub fn volume_mounts(v: &ValidatedWebEDT) -> Vec<VolumeMount> {
    let mut all = vec![tmp_mount()];
    if db_ca_volume(v).is_some() {
        all.push(VolumeMount {
            name: DB_CA_VOLUME.into(),
            mount_path: DB_CA_DIR.into(),
            read_only: Some(true),
            ..Default::default()
        });
    }
    all.extend(v.spec.volume_mounts.iter().cloned());
    all
}

/// The CA bundle of spec.database.tls as a volume holding one file, `ca.crt`.
fn db_ca_volume(v: &ValidatedWebEDT) -> Option<Volume> {
    let tls = v.spec.database.tls.as_ref()?;
    let item = |key: &str| {
        Some(vec![KeyToPath {
            key: key.to_string(),
            path: "ca.crt".into(),
            ..Default::default()
        }])
    };
    let mut volume = Volume {
        name: DB_CA_VOLUME.into(),
        ..Default::default()
    };
    if let Some(r) = &tls.ca_secret_ref {
        volume.secret = Some(SecretVolumeSource {
            secret_name: Some(r.name.clone()),
            items: item(&r.key),
            ..Default::default()
        });
    } else if let Some(r) = &tls.ca_config_map_ref {
        volume.config_map = Some(ConfigMapVolumeSource {
            name: r.name.clone(),
            items: item(&r.key),
            ..Default::default()
        });
    } else {
        return None;
    }
    Some(volume)
}

/// spec.resources, or modest defaults. A CPU request is always there, because the autoscaler
/// measures utilization against it.
pub fn resources(v: &ValidatedWebEDT) -> ResourceRequirements {
    v.spec
        .resources
        .clone()
        .unwrap_or_else(|| ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_string(), Quantity("100m".into())),
                ("memory".to_string(), Quantity("128Mi".into())),
            ])),
            limits: Some(BTreeMap::from([(
                "memory".to_string(),
                Quantity("512Mi".into()),
            )])),
            claims: None,
        })
}

/// spec.affinity, or a preference for spreading API pods over nodes, so one node failure does
/// not take every replica.
pub fn affinity(v: &ValidatedWebEDT) -> Affinity {
    v.spec.affinity.clone().unwrap_or_else(|| Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: PodAffinityTerm {
                        topology_key: "kubernetes.io/hostname".into(),
                        label_selector: Some(LabelSelector {
                            match_labels: Some(labels::selector(&v.name, Component::Api)),
                            match_expressions: None,
                        }),
                        ..Default::default()
                    },
                },
            ]),
            required_during_scheduling_ignored_during_execution: None,
        }),
        ..Default::default()
    })
}

pub fn non_empty<K: Ord, V>(map: &BTreeMap<K, V>) -> Option<BTreeMap<K, V>>
where
    BTreeMap<K, V>: Clone,
{
    (!map.is_empty()).then(|| map.clone())
}

pub fn non_empty_vec<T: Clone>(v: &[T]) -> Option<Vec<T>> {
    (!v.is_empty()).then(|| v.to_vec())
}

//! The database connection as parts and TLS to PostgreSQL: what reaches the pods parses back
//! through the contract, and the CRD refuses what cannot work.

use crate::common::*;
use k8s_openapi::api::core::v1::EnvVar;
use std::collections::BTreeMap;
use webedt_contract::names;
use webedt_operator::build::{self, deployment, migration_job};

fn secret_refs(env: &[EnvVar]) -> BTreeMap<String, (String, String)> {
    env.iter()
        .filter_map(|e| {
            let r = e.value_from.as_ref()?.secret_key_ref.as_ref()?;
            Some((e.name.clone(), (r.name.clone(), r.key.clone())))
        })
        .collect()
}

#[test]
fn credentials_as_parts_from_a_cloudnativepg_app_secret() {
    let spec = "database: {credentialsSecretRef: {name: pg-app}}";
    let refs = secret_refs(&env_for(spec));
    let part = |var: &str, key: &str| (var.to_string(), ("pg-app".to_string(), key.to_string()));
    for (var, key) in [
        part(names::DB_HOST, "host"),
        part(names::DB_PORT, "port"),
        part(names::DB_NAME, "dbname"),
        part(names::DB_USER, "user"),
        part(names::DB_PASSWORD, "password"),
    ] {
        assert_eq!(refs.get(&var), Some(&key), "{var}");
    }
    assert!(!refs.contains_key(names::DATABASE_URL));
    // The Secret is watched like the URI Secret (a rotated password rolls the pods).
    assert!(
        validated(spec)
            .referenced_secrets()
            .contains(&"pg-app".to_string())
    );
    // The API assembles the same parts into a URL, whatever the password holds.
    let mut env: BTreeMap<String, String> = BTreeMap::from([
        (names::DB_HOST.into(), "webedt-db-rw".into()),
        (names::DB_PORT.into(), "5432".into()),
        (names::DB_NAME.into(), "app".into()),
        (names::DB_USER.into(), "app".into()),
        (names::DB_PASSWORD.into(), "a@b/c:d%".into()),
        (names::SESSION_SECRET.into(), "s".repeat(43)),
    ]);
    let settings = webedt_contract::Settings::from_env(&env).unwrap();
    assert_eq!(
        settings.database_url.as_deref(),
        Some("postgres://app:a%40b%2Fc%3Ad%25@webedt-db-rw:5432/app")
    );
    env.insert(names::DATABASE_URL.into(), "postgres://x/y".into());
    assert_eq!(
        webedt_contract::Settings::from_env(&env).unwrap_err().var,
        names::DATABASE_URL,
        "a URL and parts together are refused"
    );
    // Exactly one of the two, checked by admission and offline.
    for both_or_none in [
        "image: i\ndatabase: {secretRef: {name: a}, credentialsSecretRef: {name: b}}",
        "image: i\ndatabase: {maxConnections: 5}",
    ] {
        let errors = spec_errors(both_or_none);
        assert!(
            errors
                .iter()
                .any(|e| e.contains("exactly one of secretRef")),
            "{both_or_none}: {errors:?}"
        );
    }
}

#[test]
fn tls_with_a_ca_from_a_secret_or_a_config_map() {
    let spec = "database: {secretRef: {name: db}, tls: {caSecretRef: {name: pg-ca}}}";
    let v = validated(spec);
    let d = deployment::build(&v, &inputs());
    let pod = d.spec.template.spec.unwrap();
    let ca = pod
        .volumes
        .unwrap()
        .into_iter()
        .find(|v| v.name == build::DB_CA_VOLUME)
        .unwrap();
    let secret = ca.secret.unwrap();
    assert_eq!(secret.secret_name.as_deref(), Some("pg-ca"));
    assert_eq!(secret.items.unwrap()[0].key, "ca.crt");
    let api = &pod.containers[0];
    let mount = api
        .volume_mounts
        .clone()
        .unwrap()
        .into_iter()
        .find(|m| m.name == build::DB_CA_VOLUME)
        .unwrap();
    assert_eq!(mount.read_only, Some(true));
    assert!(build::DB_CA_FILE.starts_with(&mount.mount_path));
    let values: BTreeMap<_, _> = api
        .env
        .clone()
        .unwrap()
        .into_iter()
        .filter_map(|e| Some((e.name, e.value?)))
        .collect();
    assert_eq!(values[names::DB_SSLMODE], "verify-full");
    assert_eq!(values[names::DB_SSLROOTCERT], build::DB_CA_FILE);
    // The migration Job connects the same way.
    let job = migration_job::build(&v);
    let jp = job.spec.unwrap().template.spec.unwrap();
    assert!(
        jp.volumes
            .unwrap()
            .iter()
            .any(|v| v.name == build::DB_CA_VOLUME)
    );
    // From a ConfigMap, with another key; `require` needs no CA.
    let pod = deployment::build(
        &validated(
            "database: {secretRef: {name: db}, tls: {sslMode: verify-ca, caConfigMapRef: {name: bundle, key: root.pem}}}",
        ),
        &inputs(),
    )
    .spec
    .template
    .spec
    .unwrap();
    let cm = pod
        .volumes
        .unwrap()
        .into_iter()
        .find_map(|v| v.config_map)
        .unwrap();
    assert_eq!(
        (cm.name.as_str(), cm.items.unwrap()[0].key.as_str()),
        ("bundle", "root.pem")
    );
    let env = env_for("database: {secretRef: {name: db}, tls: {sslMode: require}}");
    assert!(env.iter().any(|e| e.name == names::DB_SSLMODE));
    assert!(!env.iter().any(|e| e.name == names::DB_SSLROOTCERT));
    // verify-* without a CA cannot work: refused, naming the field.
    let errors =
        spec_errors("image: i\ndatabase: {secretRef: {name: db}, tls: {sslMode: verify-full}}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("need caSecretRef or caConfigMapRef")),
        "{errors:?}"
    );
    // The CA volume's name is taken.
    assert_eq!(
        webedt_operator::validate::validate(
            &cr(
                "image: i\ndatabase: {secretRef: {name: db}, tls: {sslMode: require}}\nvolumes: [{name: db-ca, emptyDir: {}}]"
            ),
            "ns"
        )
        .unwrap_err()
        .reason(),
        "InvalidPodExtras"
    );
}

//! The API container's environment, written from `webedt-contract` so names and number formats
//! exist once. Always complete: every pool, orphan and shutdown variable is set even at its
//! default, so `kubectl describe pod` shows the effective configuration and a changed API default
//! cannot silently change a running installation.

use super::HTTP_PORT;
use crate::crd::ProviderSpec;
use crate::validate::{SecretKey, ValidatedWebEDT};
use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, ObjectFieldSelector, SecretKeySelector};
use webedt_contract::names;

/// Default base URL when `providers.openai` is set without `baseUrl`: the API enables the openai
/// provider only when OPENAI_BASE_URL is set.
pub const OPENAI_DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

pub(super) fn value(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        value_from: None,
    }
}

pub(super) fn secret(name: &str, key: &SecretKey) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: key.name.clone(),
                key: key.key.clone(),
                optional: Some(false),
            }),
            ..Default::default()
        }),
    }
}

/// Environment of every container running `webedt-api` (API pods and the migration Job).
pub fn api_env(v: &ValidatedWebEDT) -> Vec<EnvVar> {
    let secrets = v.secret_keys();
    // Each Secret key in its place among the other variables; which keys exist and where they
    // come from is [`ValidatedWebEDT::secret_keys`]' business.
    let from_secret = |var: &str| {
        secrets
            .iter()
            .find(|s| s.var == var)
            .map(|s| secret(s.var, &s.key))
    };
    let mut env: Vec<EnvVar> = v
        .database
        .iter()
        .map(|s| secret(s.var, &s.key))
        .chain(from_secret(names::SESSION_SECRET))
        .chain(from_secret(names::CREDENTIALS_KEYS))
        .collect();
    if let Some(tls) = &v.spec.database.tls {
        env.push(value(names::DB_SSLMODE, tls.ssl_mode.as_str()));
        if tls.ca_secret_ref.is_some() || tls.ca_config_map_ref.is_some() {
            env.push(value(names::DB_SSLROOTCERT, super::pod::DB_CA_FILE));
        }
    }
    env.extend([
        value(names::PORT, HTTP_PORT.to_string()),
        EnvVar {
            name: names::CONTAINER_ID.into(),
            value: None,
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    api_version: Some("v1".into()),
                    field_path: "metadata.name".into(),
                }),
                ..Default::default()
            }),
        },
        // With a migration Job the pods must not race it; OnStartup is the API's own default,
        // written out anyway so the environment is complete.
        value(
            names::MIGRATE_ON_START,
            (!v.migrations_as_job()).to_string(),
        ),
    ]);
    env.extend(from_secret(names::DATABASE_DIRECT_URL));
    let settings = [
        v.pool.to_env(),
        v.orphans.to_env(),
        v.shutdown.to_env(),
        v.scale.to_env(),
        v.limits.to_env(),
        v.provider_limits.to_env(),
    ]
    .concat();
    env.extend(settings.into_iter().map(|(k, val)| value(k, val)));
    if v.spec.ingress.enabled {
        env.push(value(
            names::TRUSTED_PROXY_HOPS,
            v.spec.ingress.trusted_proxy_hops.to_string(),
        ));
    }
    env.extend(provider_env(v, &from_secret));
    if let Some(g) = &v.spec.github {
        env.push(value(names::GITHUB_CLIENT_ID, g.client_id.clone()));
        env.extend(from_secret(names::GITHUB_CLIENT_SECRET));
        if let Some(u) = &g.url {
            env.push(value(names::GITHUB_URL, u.clone()));
        }
        if let Some(u) = &g.api_url {
            env.push(value(names::GITHUB_API_URL, u.clone()));
        }
    }
    env.extend(v.spec.env.iter().cloned());
    env
}

fn provider_env(v: &ValidatedWebEDT, from_secret: &dyn Fn(&str) -> Option<EnvVar>) -> Vec<EnvVar> {
    let p = &v.spec.providers;
    let mut env = Vec::new();
    let mut hosted =
        |spec: &ProviderSpec, key: &str, url: &str, model: &str, default_url: Option<&str>| {
            env.extend(from_secret(key));
            if let Some(u) = spec.base_url.as_deref().or(default_url) {
                env.push(value(url, u));
            }
            if let Some(m) = &spec.model {
                env.push(value(model, m.clone()));
            }
        };
    if let Some(a) = &p.anthropic {
        hosted(
            a,
            names::ANTHROPIC_API_KEY,
            names::ANTHROPIC_BASE_URL,
            names::ANTHROPIC_MODEL,
            None,
        );
    }
    if let Some(o) = &p.openai {
        hosted(
            o,
            names::OPENAI_API_KEY,
            names::OPENAI_BASE_URL,
            names::OPENAI_MODEL,
            Some(OPENAI_DEFAULT_BASE_URL),
        );
    }
    if let Some(w) = &p.worker {
        env.push(value(names::AI_WORKER_URL, w.url.clone()));
        env.extend(from_secret(names::AI_WORKER_SECRET));
    } else if v.worker.is_some() {
        // The operator's own workers (validate() refuses both at once). The URL names the
        // Service, never the image, so a worker image change leaves the API pods alone.
        env.push(value(names::AI_WORKER_URL, super::worker_service::url(v)));
        env.extend(from_secret(names::AI_WORKER_SECRET));
    }
    if let Some(d) = p.default {
        env.push(value(names::DEFAULT_PROVIDER, d.as_str()));
    }
    if p.require_user_keys {
        env.push(value(names::REQUIRE_USER_KEYS, "true"));
    }
    env
}

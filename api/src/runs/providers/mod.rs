//! The providers this deployment offers: the configured network providers (their wire formats
//! live in the `webedt-providers` crate) plus the built-in demo, listed for the UI and checked
//! when a run names one. Keys never leave the providers.

mod demo;

use serde::Serialize;
use std::sync::Arc;

pub use demo::Demo;
use webedt_providers::{Anthropic, Http, OpenAi, Worker};
pub use webedt_providers::{Provider, ProviderEvent, ProviderStream, Role, RunRequest, Turn};

use crate::connections::OwnKey;
use crate::error::{AppError, AppResult, ErrorCode};

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProviderInfo {
    /// `demo`, `anthropic`, `openai` or `worker`.
    pub id: &'static str,
    pub label: String,
    pub models: Vec<String>,
    pub default: bool,
    /// `true`: the caller's runs on it use their own key (Settings → Connections); absent
    /// otherwise.
    #[serde(rename = "ownKey", skip_serializing_if = "std::ops::Not::not")]
    pub own_key: bool,
}

/// The configured providers. Only configured ones are listed; keys never leave this module.
pub struct Providers {
    list: Vec<Arc<dyn Provider>>,
    default: &'static str,
    /// Where coding runs (sessions with a repository) go: the worker at `AI_WORKER_URL`, else the
    /// local run's in-process worker; `None`: this deployment refuses coding runs.
    coding: Option<Arc<dyn Provider>>,
}

impl Providers {
    /// The configured providers in the order anthropic, openai, worker, demo (always there).
    /// `local_worker`: how to reach the local run's in-process worker (used for coding runs when
    /// no `AI_WORKER_URL` is set).
    pub fn from_settings(
        settings: &webedt_contract::Settings,
        local_worker: Option<webedt_contract::WorkerSettings>,
    ) -> Self {
        let p = &settings.providers;
        let http = Http::new(&p.limits);
        let mut list: Vec<Arc<dyn Provider>> = Vec::new();
        if let Some(a) = &p.anthropic {
            list.push(Arc::new(Anthropic::new(http.clone(), a.clone())));
        }
        if let Some(o) = &p.openai {
            list.push(Arc::new(OpenAi::new(http.clone(), o.clone())));
        }
        let mut coding: Option<Arc<dyn Provider>> = None;
        if let Some(w) = &p.worker {
            let worker: Arc<dyn Provider> = Arc::new(Worker::new(http.clone(), w.clone()));
            list.push(worker.clone());
            coding = Some(worker);
        }
        if coding.is_none()
            && let Some(local) = local_worker
        {
            coding = Some(Arc::new(Worker::new(http.clone(), local)));
        }
        list.push(Arc::new(Demo::new(&settings.demo)));
        Self {
            list,
            default: p.default_provider,
            coding,
        }
    }

    /// The worker that runs coding runs, if this deployment has one.
    pub fn coding(&self) -> Option<Arc<dyn Provider>> {
        self.coding.clone()
    }

    /// 422 at session creation / 409 at run start when coding runs cannot run here.
    pub fn coding_unavailable() -> &'static str {
        "coding runs need a worker: set AI_WORKER_URL (and AI_WORKER_SECRET) to a webedt-worker; \
         only the local run (no DATABASE_URL) has one built in"
    }

    pub fn get(&self, id: &str) -> Option<Arc<dyn Provider>> {
        self.list.iter().find(|p| p.id() == id).cloned()
    }

    /// Validates a requested provider/model pair, filling defaults.
    pub fn resolve(
        &self,
        provider: Option<&str>,
        model: Option<&str>,
    ) -> AppResult<(String, String)> {
        let id = provider.unwrap_or(self.default);
        let p = self.get(id).ok_or_else(|| {
            let known: Vec<&str> = self.list.iter().map(|p| p.id()).collect();
            AppError::validation(
                "provider",
                format!("unknown provider `{id}`; configured: {}", known.join(", ")),
            )
        })?;
        let models = p.models();
        let model = match model {
            None => models.first().cloned().unwrap_or_default(),
            Some(m) if m.trim().is_empty() || m.len() > 200 => {
                return Err(AppError::validation("model", "must be 1 to 200 characters"));
            }
            Some(m) => m.trim().to_string(),
        };
        Ok((p.id().to_string(), model))
    }

    /// The providers for a user with `own` keys: the configured ones plus those only their
    /// own keys enable.
    pub fn describe(&self, own: &[OwnKey]) -> Vec<ProviderInfo> {
        let mut list: Vec<ProviderInfo> = self
            .list
            .iter()
            .map(|p| {
                let key = own.iter().find(|k| k.provider == p.id());
                let mut models = p.models();
                if let Some(k) = key.filter(|k| !k.model.is_empty() && !models.contains(&k.model)) {
                    models.insert(0, k.model.clone());
                }
                ProviderInfo {
                    id: p.id(),
                    label: p.label(),
                    models,
                    default: p.id() == self.default,
                    own_key: key.is_some(),
                }
            })
            .collect();
        for k in own {
            if self.get(&k.provider).is_none() {
                let (id, label) = own_provider(&k.provider);
                list.insert(
                    list.len() - 1,
                    ProviderInfo {
                        id,
                        label: label.into(),
                        models: vec![own_model(self, k)],
                        default: false,
                        own_key: true,
                    },
                );
            }
        }
        list
    }

    /// Like [`Self::resolve`] for a user with `own` keys: a provider their key enables is
    /// available even where the deployment configures none, and defaults to the key's model.
    pub fn resolve_with(
        &self,
        own: &[OwnKey],
        provider: Option<&str>,
        model: Option<&str>,
    ) -> AppResult<(String, String)> {
        let id = provider.unwrap_or(self.default);
        let Some(key) = own.iter().find(|k| k.provider == id) else {
            return self.resolve(provider, model);
        };
        let model = match model {
            None => own_model(self, key),
            Some(m) if m.trim().is_empty() || m.len() > 200 => {
                return Err(AppError::validation("model", "must be 1 to 200 characters"));
            }
            Some(m) => m.trim().to_string(),
        };
        Ok((key.provider.clone(), model))
    }

    /// A chat provider for one run on the user's own key; `vetted` is its base URL, checked
    /// against SSRF just now, and the client connects to exactly those addresses.
    pub fn with_own_key(
        limits: &webedt_contract::ProviderLimits,
        key: &OwnKey,
        vetted: &crate::outbound::Vetted,
    ) -> Arc<dyn Provider> {
        let http = Http::pinned(limits, vetted);
        let model = key.model.clone();
        if key.provider == "anthropic" {
            Arc::new(Anthropic::new(
                http,
                webedt_contract::AnthropicSettings {
                    api_key: key.key.clone(),
                    base_url: key.base_url.clone(),
                    model,
                },
            ))
        } else {
            Arc::new(OpenAi::new(
                http,
                webedt_contract::OpenAiSettings {
                    api_key: Some(key.key.clone()),
                    base_url: key.base_url.clone(),
                    model,
                },
            ))
        }
    }

    /// 403 for a run that would spend the deployment's key while `REQUIRE_USER_KEYS` is on.
    pub fn user_key_required(provider: &str) -> AppError {
        AppError::Forbidden {
            code: ErrorCode::UserKeyRequired,
            message: format!(
                "this deployment runs `{provider}` only with your own AI key: add one under \
                 Settings → Connections, or use the demo provider"
            ),
        }
    }
}

/// The id and label of a provider only a user's own key enables.
fn own_provider(id: &str) -> (&'static str, &'static str) {
    if id == "anthropic" {
        ("anthropic", "Anthropic")
    } else {
        ("openai", "OpenAI-compatible")
    }
}

/// The model a run on `key` uses when it names none: the key's, else the deployment's for that
/// provider, else the provider's usual one.
fn own_model(providers: &Providers, key: &OwnKey) -> String {
    if !key.model.is_empty() {
        return key.model.clone();
    }
    providers
        .get(&key.provider)
        .and_then(|p| p.models().first().cloned())
        .unwrap_or_else(|| {
            if key.provider == "anthropic" {
                webedt_contract::ProviderSettings::ANTHROPIC_DEFAULT_MODEL.into()
            } else {
                webedt_contract::ProviderSettings::OPENAI_DEFAULT_MODEL.into()
            }
        })
}

//! The providers this deployment offers: the configured network providers (their wire formats
//! live in the `webedt-providers` crate) plus the built-in demo, listed for the UI and checked
//! when a run names one. Keys never leave the providers.

mod demo;

use serde::Serialize;
use std::sync::Arc;

pub use demo::Demo;
use webedt_providers::{Anthropic, Http, OpenAi, Worker};
pub use webedt_providers::{Provider, ProviderEvent, ProviderStream, Role, RunRequest, Turn};

use crate::error::{AppError, AppResult};

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProviderInfo {
    /// `demo`, `anthropic`, `openai` or `worker`.
    pub id: &'static str,
    pub label: String,
    pub models: Vec<String>,
    pub default: bool,
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

    pub fn describe(&self) -> Vec<ProviderInfo> {
        self.list
            .iter()
            .map(|p| ProviderInfo {
                id: p.id(),
                label: p.label(),
                models: p.models(),
                default: p.id() == self.default,
            })
            .collect()
    }
}

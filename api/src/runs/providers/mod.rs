//! AI providers behind one trait. A provider turns a prompt (plus the conversation so far) into a
//! stream of normalised events; the run machinery stores them, so neither the UI nor the event
//! log needs provider-specific code. Dropping the stream aborts the upstream request.

mod demo;

use futures::stream::BoxStream;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

pub use demo::Demo;

use crate::error::{AppError, AppResult};

/// One turn of the conversation, rebuilt from stored events for follow-ups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub role: Role,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

#[derive(Debug, Clone)]
pub struct RunRequest {
    pub prompt: String,
    pub history: Vec<Turn>,
    pub model: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProviderEvent {
    Text(String),
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        content: String,
        is_error: bool,
    },
    Usage {
        input_tokens: u64,
        output_tokens: u64,
        cost_usd: Option<f64>,
    },
}

/// A failure worded for the person who started the run; it becomes the stored `error` event.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ProviderError(pub String);

pub type ProviderStream = BoxStream<'static, Result<ProviderEvent, ProviderError>>;

pub trait Provider: Send + Sync {
    fn id(&self) -> &'static str;
    fn label(&self) -> String;
    fn models(&self) -> Vec<String>;
    fn start(&self, request: RunRequest) -> ProviderStream;
}

#[derive(Serialize)]
pub struct ProviderInfo {
    pub id: &'static str,
    pub label: String,
    pub models: Vec<String>,
    pub default: bool,
}

/// The configured providers. Only configured ones are listed; keys never leave this module.
pub struct Providers {
    list: Vec<Arc<dyn Provider>>,
    default: &'static str,
}

impl Providers {
    pub fn from_settings(settings: &webedt_contract::Settings) -> Self {
        let demo: Arc<dyn Provider> = Arc::new(Demo::new(&settings.demo));
        Self {
            list: vec![demo],
            default: "demo",
        }
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

//! AI providers behind one trait. A provider turns a prompt (plus the conversation so far) into a
//! stream of normalised events; the run machinery stores them, so neither the UI nor the event
//! log needs provider-specific code. Dropping the stream aborts the upstream request.

mod anthropic;
mod demo;
mod http;
mod openai;
mod sse;
mod worker;

use futures::stream::BoxStream;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

pub use anthropic::Anthropic;
pub use demo::Demo;
pub use openai::OpenAi;
pub use worker::Worker;

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
    /// The chat session (the worker protocol's `chatSessionId`).
    pub session: uuid::Uuid,
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

impl RunRequest {
    /// The conversation as alternating turns that start with the user and end with this run's
    /// prompt: empty turns dropped, consecutive turns of one role joined (a run that failed
    /// before answering leaves two user turns in a row), a leading assistant turn (history
    /// trimmed mid-conversation) dropped. What the chat APIs accept.
    pub fn conversation(&self) -> Vec<Turn> {
        let mut turns: Vec<Turn> = Vec::with_capacity(self.history.len() + 1);
        let all = self.history.iter().cloned().chain(std::iter::once(Turn {
            role: Role::User,
            text: self.prompt.clone(),
        }));
        for turn in all {
            if turn.text.trim().is_empty() || (turns.is_empty() && turn.role == Role::Assistant) {
                continue;
            }
            match turns.last_mut() {
                Some(last) if last.role == turn.role => {
                    last.text.push_str("\n\n");
                    last.text.push_str(&turn.text);
                }
                _ => turns.push(turn),
            }
        }
        turns
    }
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
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
    /// The configured providers in the order anthropic, openai, worker, demo (always there).
    pub fn from_settings(settings: &webedt_contract::Settings) -> Self {
        let p = &settings.providers;
        let http = http::Http::new(&p.limits);
        let mut list: Vec<Arc<dyn Provider>> = Vec::new();
        if let Some(a) = &p.anthropic {
            list.push(Arc::new(Anthropic::new(http.clone(), a.clone())));
        }
        if let Some(o) = &p.openai {
            list.push(Arc::new(OpenAi::new(http.clone(), o.clone())));
        }
        if let Some(w) = &p.worker {
            list.push(Arc::new(Worker::new(http.clone(), w.clone())));
        }
        list.push(Arc::new(Demo::new(&settings.demo)));
        Self {
            list,
            default: p.default_provider,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(role: Role, text: &str) -> Turn {
        Turn {
            role,
            text: text.into(),
        }
    }

    #[test]
    fn conversation_alternates_starting_with_the_user_and_ends_with_the_prompt() {
        let request = RunRequest {
            session: uuid::Uuid::nil(),
            prompt: "third".into(),
            history: vec![
                turn(Role::Assistant, "cut-off answer"),
                turn(Role::User, "first"),
                turn(Role::Assistant, ""),
                turn(Role::User, "second"),
                turn(Role::Assistant, "answer"),
            ],
            model: "m".into(),
        };
        assert_eq!(
            request.conversation(),
            vec![
                turn(Role::User, "first\n\nsecond"),
                turn(Role::Assistant, "answer"),
                turn(Role::User, "third"),
            ]
        );
    }
}

//! The AI providers' wire formats behind one trait, free of the web server: a provider turns a
//! prompt (plus the conversation so far) into a stream of normalised [`ProviderEvent`]s, so
//! neither the UI nor the event log needs provider-specific code. Dropping the stream aborts the
//! upstream request.
//!
//! Here: Anthropic's Messages API, OpenAI-compatible chat completions and the self-hosted worker
//! protocol (each one file), the SSE parser and the HTTP plumbing they share. The API owns which
//! providers are configured and how their events are stored.

mod anthropic;
pub mod http;
mod openai;
pub mod sse;
mod worker;

use futures::stream::BoxStream;
use serde_json::Value;

pub use anthropic::Anthropic;
pub use http::Http;
pub use openai::OpenAi;
pub use worker::Worker;

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

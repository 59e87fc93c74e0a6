//! The worker protocol: what `POST /execute` receives and the events it streams back.
//!
//! The request keeps the fields the API's `worker` provider always sent (`type`,
//! `chatSessionId`, `prompt`, `history`, `model`) and adds `workspace` (absent: a plain chat run)
//! and `provider`. Events are SSE with `event: <type>` and the same `type` in the JSON data.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A credential or key: never printed by `Debug`, never serialised into an event.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteRequest {
    /// `execute` or `resume` (informational: `history` says what came before).
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    pub chat_session_id: String,
    pub prompt: String,
    #[serde(default)]
    pub history: Vec<HistoryTurn>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub workspace: Option<WorkspaceSpec>,
    #[serde(default)]
    pub provider: Option<ProviderSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct HistoryTurn {
    pub role: String,
    pub content: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceSpec {
    /// `https://host/owner/repo.git`, or `file:///path` where the worker allows it.
    pub repository_url: String,
    pub base_branch: String,
    /// Always `webedt/…`: the only branches the worker pushes.
    pub working_branch: String,
    /// The branch tip the session last recorded; `None` on a session's first run.
    #[serde(default)]
    pub expected_head: Option<String>,
    #[serde(default)]
    pub credential: Option<Credential>,
    pub author: Author,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Credential {
    pub username: String,
    pub token: Secret,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Author {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Anthropic,
    Openai,
    Demo,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProviderSpec {
    pub kind: ProviderKind,
    #[serde(default)]
    pub model: Option<String>,
    /// The user's own key; `None`: the worker's configured key for this kind.
    #[serde(default)]
    pub api_key: Option<Secret>,
    #[serde(default)]
    pub base_url: Option<String>,
}

/// The report of what the run left on its branch (sent after each push and last before
/// `result`): one type with the API's client, which stores it as the `changes` event.
pub use webedt_providers::{Changes, FileChange};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// One streamed event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkerEvent {
    /// A delta of the assistant's text.
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
    #[serde(rename_all = "camelCase")]
    ToolResult {
        tool_use_id: String,
        content: String,
        is_error: bool,
    },
    Changes(Changes),
    #[serde(rename_all = "camelCase")]
    Result {
        usage: Usage,
        cost_usd: Option<f64>,
        turns: u32,
        duration_ms: u64,
    },
    Error {
        message: String,
    },
}

impl WorkerEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            WorkerEvent::Text { .. } => "text",
            WorkerEvent::ToolUse { .. } => "tool_use",
            WorkerEvent::ToolResult { .. } => "tool_result",
            WorkerEvent::Changes(_) => "changes",
            WorkerEvent::Result { .. } => "result",
            WorkerEvent::Error { .. } => "error",
        }
    }

    /// The SSE frame: `event: <type>` and the JSON (with `type`) as data.
    pub fn to_sse(&self) -> String {
        let data = serde_json::to_string(self).expect("events serialise");
        format!("event: {}\ndata: {}\n\n", self.kind(), data)
    }

    pub fn error(message: impl Into<String>) -> Self {
        WorkerEvent::Error {
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_parses_the_agreed_shape_and_hides_secrets_from_debug() {
        let r: ExecuteRequest = serde_json::from_value(json!({
            "type": "execute", "chatSessionId": "s", "prompt": "p", "history": [], "model": "m",
            "workspace": {"repositoryUrl": "https://h/o/r.git", "baseBranch": "main",
                "workingBranch": "webedt/0123456789abcdef", "expectedHead": null,
                "credential": {"username": "x-access-token", "token": "tok-SECRET"},
                "author": {"name": "o", "email": "o@x"}},
            "provider": {"kind": "openai", "model": "g", "apiKey": "key-SECRET", "baseUrl": null}
        }))
        .unwrap();
        let debug = format!("{r:?}");
        assert!(!debug.contains("SECRET"), "{debug}");
        assert_eq!(r.provider.unwrap().kind, ProviderKind::Openai);
        // The old shape (no workspace, no provider) still parses.
        let r: ExecuteRequest =
            serde_json::from_value(json!({"chatSessionId": "s", "prompt": "p"})).unwrap();
        assert!(r.workspace.is_none() && r.provider.is_none());
    }

    #[test]
    fn events_are_sse_frames_whose_data_repeats_the_type() {
        let e = WorkerEvent::ToolResult {
            tool_use_id: "t".into(),
            content: "c".into(),
            is_error: true,
        };
        assert_eq!(
            e.to_sse(),
            "event: tool_result\ndata: {\"type\":\"tool_result\",\"toolUseId\":\"t\",\"content\":\"c\",\"isError\":true}\n\n"
        );
    }
}

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
pub mod outbound;
pub mod sse;
pub mod wire;
mod worker;

use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
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
    /// A user turn's images (replayed with the conversation); empty for assistant turns.
    pub images: Vec<wire::Image>,
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
    /// The prompt's images. Chat providers send them; the worker protocol has no field for
    /// them, so the API refuses images on worker runs (422 `images_unsupported`).
    pub images: Vec<wire::Image>,
    pub history: Vec<Turn>,
    pub model: String,
    /// Set for a run of a session with a repository: only the worker runs those.
    pub coding: Option<CodingRun>,
}

/// What a coding run works on and with (the worker protocol's `workspace` and `provider`).
#[derive(Debug, Clone, PartialEq)]
pub struct CodingRun {
    /// `https://…`, or `file://…` in the local run.
    pub repository_url: String,
    pub base_branch: String,
    /// `webedt/…`: the only branch the worker pushes.
    pub working_branch: String,
    /// The branch tip the session recorded last; `None` before its first push.
    pub expected_head: Option<String>,
    pub author_name: String,
    pub author_email: String,
    /// The model the worker calls: `anthropic`, `openai` or `demo`; `None`: the worker's default.
    pub provider: Option<String>,
    pub model: Option<String>,
    /// The user's connection to the repository's host, for this run only: git authenticates
    /// with it (HTTP Basic, username and token). `None`: public or local repositories only.
    pub credential: Option<GitCredential>,
    /// The user's own model key for `provider` (and its base URL), for this run only; `None`:
    /// the worker's configured key.
    pub api_key: Option<webedt_contract::Secret>,
    pub base_url: Option<String>,
}

/// A username and token for a git host. The token's `Debug` output is redacted.
#[derive(Debug, Clone, PartialEq)]
pub struct GitCredential {
    pub username: String,
    pub token: webedt_contract::Secret,
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
    /// The coding worker's report of what its run left on the working branch (after each push
    /// and last before the end). Stored as its own event kind, `changes`.
    Changes(Changes),
}

/// What a coding run's working branch holds beyond its base, as the worker reports it (the
/// worker protocol's `changes` event, field for field; its JSON is also the stored event's data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    pub branch: String,
    pub base_branch: String,
    pub base_commit: String,
    /// The pushed tip of `branch`; `None` when the branch does not exist on the remote (yet).
    pub head_commit: Option<String>,
    pub files: Vec<FileChange>,
    /// Unified diff `baseCommit..headCommit`, cut at the worker's bound.
    pub diff: String,
    /// The diff was cut.
    pub truncated: bool,
}

/// Most of a diff kept from a worker's report (the worker's own bound), and most files listed:
/// a worker is another service, and what it sends ends up in the event log.
pub const CHANGES_DIFF_MAX: usize = 256 * 1024;
pub const CHANGES_FILES_MAX: usize = 2000;

impl Changes {
    /// Cuts the diff and the file list to their bounds, marking the report truncated.
    pub fn bounded(mut self) -> Self {
        if self.diff.len() > CHANGES_DIFF_MAX {
            let mut cut = CHANGES_DIFF_MAX;
            while !self.diff.is_char_boundary(cut) {
                cut -= 1;
            }
            self.diff.truncate(cut);
            self.truncated = true;
        }
        if self.files.len() > CHANGES_FILES_MAX {
            self.files.truncate(CHANGES_FILES_MAX);
            self.truncated = true;
        }
        self
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileChange {
    pub path: String,
    /// `added` | `modified` | `deleted` | `renamed`.
    pub status: String,
    pub additions: u64,
    pub deletions: u64,
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
            images: self.images.clone(),
        }));
        for turn in all {
            if (turn.text.trim().is_empty() && turn.images.is_empty())
                || (turns.is_empty() && turn.role == Role::Assistant)
            {
                continue;
            }
            match turns.last_mut() {
                Some(last) if last.role == turn.role => {
                    last.text.push_str("\n\n");
                    last.text.push_str(&turn.text);
                    last.images.extend(turn.images);
                }
                _ => turns.push(turn),
            }
        }
        turns
    }
}

/// A chat run's conversation in the wire formats' neutral form.
fn wire_messages(request: &RunRequest) -> Vec<wire::Message> {
    request
        .conversation()
        .into_iter()
        .map(|t| match t.role {
            Role::User if t.images.is_empty() => wire::Message::User(t.text),
            Role::User => wire::Message::UserImages {
                text: t.text,
                images: t.images,
            },
            Role::Assistant => wire::Message::Assistant {
                text: t.text,
                calls: vec![],
            },
        })
        .collect()
}

/// A decoded piece of an answer as the event a chat run stores.
fn provider_event(event: wire::WireEvent) -> ProviderEvent {
    match event {
        wire::WireEvent::Text(t) => ProviderEvent::Text(t),
        wire::WireEvent::ToolCall(call) => ProviderEvent::ToolUse {
            input: call.input_value(),
            id: call.id,
            name: call.name,
        },
        wire::WireEvent::ServerToolResult {
            tool_use_id,
            content,
            is_error,
        } => ProviderEvent::ToolResult {
            tool_use_id,
            content,
            is_error,
        },
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
            images: vec![],
        }
    }

    #[test]
    fn a_changes_report_is_cut_to_its_bounds_and_marked_truncated() {
        let file = FileChange {
            path: "a".into(),
            status: "modified".into(),
            additions: 1,
            deletions: 0,
        };
        let report = Changes {
            branch: "webedt/x".into(),
            base_branch: "main".into(),
            base_commit: "a".repeat(40),
            head_commit: None,
            files: vec![file.clone(); CHANGES_FILES_MAX + 1],
            // A multi-byte character across the cut.
            diff: format!("{}é", "x".repeat(CHANGES_DIFF_MAX - 1)),
            truncated: false,
        };
        let cut = report.clone().bounded();
        assert!(cut.truncated);
        assert_eq!(cut.diff.len(), CHANGES_DIFF_MAX - 1);
        assert_eq!(cut.files.len(), CHANGES_FILES_MAX);
        let small = Changes {
            files: vec![file],
            diff: "d".into(),
            ..report
        };
        assert_eq!(small.clone().bounded(), small);
    }

    #[test]
    fn conversation_alternates_starting_with_the_user_and_ends_with_the_prompt() {
        let request = RunRequest {
            session: uuid::Uuid::nil(),
            prompt: "third".into(),
            images: vec![],
            history: vec![
                turn(Role::Assistant, "cut-off answer"),
                turn(Role::User, "first"),
                turn(Role::Assistant, ""),
                turn(Role::User, "second"),
                turn(Role::Assistant, "answer"),
            ],
            model: "m".into(),
            coding: None,
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

//! Model clients with tool use: Anthropic Messages (`tools`, `tool_use`, `tool_result`) and
//! OpenAI-compatible chat completions (`tools`, `tool_calls` streamed in fragments), plus the
//! scripted demo. One neutral conversation ([`Message`]) is rendered into each wire format.
//!
//! The SSE parser is the providers crate's. The tool-use request/response formats still live
//! here, beside the API's chat-only ones in that crate; moving them there is issue 18's open end.

pub mod anthropic;
pub mod demo;
pub mod openai;

use webedt_providers::sse;

use serde_json::Value;
use std::time::Duration;
use tokio::sync::mpsc;

use crate::protocol::{Secret, Usage, WorkerEvent};
use crate::tools::ToolSpec;

/// A tool call as the model sent it. `input` is `Err(raw text)` when it was not a JSON object.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub input: Result<Value, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub id: String,
    pub content: String,
    pub is_error: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    User(String),
    Assistant { text: String, calls: Vec<ToolCall> },
    ToolResults(Vec<ToolResult>),
}

impl Message {
    pub fn chars(&self) -> usize {
        match self {
            Message::User(t) => t.len(),
            Message::Assistant { text, calls } => {
                text.len()
                    + calls
                        .iter()
                        .map(|c| {
                            c.name.len()
                                + c.input
                                    .as_ref()
                                    .map(|v| v.to_string().len())
                                    .unwrap_or_else(|r| r.len())
                        })
                        .sum::<usize>()
            }
            Message::ToolResults(r) => r.iter().map(|r| r.content.len()).sum(),
        }
    }
}

/// One model answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Reply {
    pub text: String,
    pub calls: Vec<ToolCall>,
    /// The wire format's stop reason (`end_turn`, `tool_use`, `stop`, `tool_calls`, `length`…).
    pub stop: String,
    pub usage: Usage,
}

pub struct Request<'a> {
    pub model: &'a str,
    pub system: &'a str,
    pub messages: &'a [Message],
    pub tools: &'a [ToolSpec],
    pub max_tokens: u32,
}

#[derive(Clone)]
pub struct Http {
    pub client: reqwest::Client,
    /// Longest silence before the answer starts or between two chunks.
    pub idle: Duration,
}

impl Http {
    pub fn new(connect: Duration, idle: Duration) -> Self {
        Self {
            client: reqwest::Client::builder()
                .connect_timeout(connect)
                .user_agent(concat!("webedt-worker/", env!("CARGO_PKG_VERSION")))
                .build()
                .expect("static client settings"),
            idle,
        }
    }
}

pub enum Client {
    Anthropic {
        http: Http,
        key: Secret,
        base_url: String,
    },
    OpenAi {
        http: Http,
        key: Option<Secret>,
        base_url: String,
    },
    Demo(demo::Demo),
}

/// Where streamed text goes as it arrives.
pub type TextSink = mpsc::Sender<WorkerEvent>;

impl Client {
    pub fn label(&self) -> &'static str {
        match self {
            Client::Anthropic { .. } => "Anthropic",
            Client::OpenAi { .. } => "The OpenAI-compatible server",
            Client::Demo(_) => "The demo",
        }
    }

    pub async fn complete(&self, req: &Request<'_>, text: &TextSink) -> Result<Reply, String> {
        match self {
            Client::Anthropic {
                http,
                key,
                base_url,
            } => anthropic::complete(http, key, base_url, req, text).await,
            Client::OpenAi {
                http,
                key,
                base_url,
            } => openai::complete(http, key.as_ref(), base_url, req, text).await,
            Client::Demo(d) => d.complete(req, text).await,
        }
    }
}

/// Parses a tool call's accumulated argument text: empty means `{}`; anything but a JSON
/// object is kept raw so the model can be told what was wrong.
pub fn parse_input(raw: &str) -> Result<Value, String> {
    if raw.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(raw.to_string()),
    }
}

/// Sends a POST and returns the streaming response, or a message naming the status and the
/// upstream's own error message (never the key).
pub(crate) async fn post(
    http: &Http,
    label: &str,
    builder: reqwest::RequestBuilder,
    secret: Option<&Secret>,
) -> Result<reqwest::Response, String> {
    let scrub = |s: String| match secret {
        Some(k) if !k.expose().is_empty() => s.replace(k.expose(), "***"),
        _ => s,
    };
    let response = match tokio::time::timeout(http.idle, builder.send()).await {
        Err(_) => return Err(format!("{label} did not answer in time")),
        Ok(Err(e)) => {
            return Err(scrub(format!(
                "could not reach {label}: {}",
                e.without_url()
            )));
        }
        Ok(Ok(r)) => r,
    };
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = tokio::time::timeout(Duration::from_secs(10), response.text())
        .await
        .ok()
        .and_then(|r| r.ok())
        .unwrap_or_default();
    let detail = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_default();
    let detail: String = detail.chars().take(300).collect();
    Err(scrub(format!(
        "{label} refused the request (HTTP {}){}",
        status.as_u16(),
        if detail.is_empty() {
            String::new()
        } else {
            format!(": {detail}")
        }
    )))
}

/// Reads SSE events off a response with the idle limit.
pub(crate) struct Events {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    parser: sse::SseParser,
    pending: std::collections::VecDeque<sse::SseEvent>,
    idle: Duration,
}

impl Events {
    pub fn new(http: &Http, response: reqwest::Response) -> Self {
        Self {
            body: Box::pin(response.bytes_stream()),
            parser: sse::SseParser::new(),
            pending: Default::default(),
            idle: http.idle,
        }
    }

    pub async fn next(&mut self, label: &str) -> Result<Option<sse::SseEvent>, String> {
        use futures::StreamExt;
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(Some(e));
            }
            match tokio::time::timeout(self.idle, self.body.next()).await {
                Err(_) => return Err(format!("{label} went silent in the middle of its answer")),
                Ok(None) => return Ok(None),
                Ok(Some(Err(e))) => {
                    return Err(format!(
                        "the connection to {label} broke: {}",
                        e.without_url()
                    ));
                }
                Ok(Some(Ok(chunk))) => self.pending.extend(self.parser.push(&chunk)),
            }
        }
    }
}
